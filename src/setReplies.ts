// The wire replies to a set's outcome (docs/protocol.md#adding-items-set): the domain says what
// happened, the session says it in the protocol's words.
import { type Reply, serverError, tooLarge } from './protocol/command.js';
import { type SetOutcome } from './outcomes.js';
import { NOT_STORED, STORED } from './replies.js';

/** One connection's replies to sets; the sets of one store batch share one reply promise. */
export class SetReplies {
  private lastDurable: Promise<void> | undefined;
  private lastReply: Promise<Reply> | undefined;

  replyTo(outcome: SetOutcome | Promise<SetOutcome>): Reply | Promise<Reply> {
    if (outcome instanceof Promise) return outcome.then((settled) => this.replyTo(settled));
    switch (outcome.kind) {
      case 'stored':
        return this.storedOnceKept(outcome.durable);
      case 'readOnly':
      case 'full':
        return NOT_STORED;
      case 'tooLarge':
        return tooLarge();
    }
  }

  /**
   * `STORED` once the batch holding the item is kept. The session groups replies by promise:
   * one promise per batch means one handler, and one socket write, for all of the batch's sets.
   */
  private storedOnceKept(durable: Promise<void>): Promise<Reply> {
    if (durable !== this.lastDurable) {
      this.lastDurable = durable;
      this.lastReply = durable.then(
        () => STORED,
        () => serverError('store failed before the item was kept'),
      );
    }
    return this.lastReply!;
  }
}
