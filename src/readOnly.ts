// The server status and what it allows (docs/protocol.md#server-commands): in READONLY writes
// are refused and reads still work; in QUIESCENT writes are refused too and every get finds
// nothing, so clients spread over several servers move on while this one drains.

export type ServerStatus = 'UP' | 'READONLY' | 'QUIESCENT';
export const STATUSES: readonly ServerStatus[] = ['UP', 'READONLY', 'QUIESCENT'];

/** What the status does to a command: serve it, refuse it, or answer as if every queue were empty. */
export type StatusDecision = 'serve' | 'refuse' | 'empty';

/** The commands the status governs: the writes it refuses and the reads it can hide. */
export type GovernedCommand = 'set' | 'delete' | 'flush' | 'flush_all' | 'get';

/** The one place the read-only rules live. */
export function statusDecision(status: ServerStatus, command: GovernedCommand): StatusDecision {
  if (command === 'get') return status === 'QUIESCENT' ? 'empty' : 'serve';
  return status === 'UP' ? 'serve' : 'refuse';
}

/** The status named by `text` (any case), or null when it names none. */
export function parseStatus(text: string): ServerStatus | null {
  const upper = text.toUpperCase() as ServerStatus;
  return STATUSES.includes(upper) ? upper : null;
}
