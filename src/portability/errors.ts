// The one kind of error the portability commands show the user as it is: a refusal with its
// reason (bad input, a locked or unsuitable directory). Anything else is a bug or an I/O fault.

export class PortabilityError extends Error {
  override readonly name = 'PortabilityError';
}

/** A refusal tied to one line of a backup file: the message names the line. */
export function lineError(line: number, message: string): PortabilityError {
  return new PortabilityError(`line ${line}: ${message}`);
}
