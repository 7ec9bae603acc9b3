// Which commands change what is stored: while the store fails closed (docs/durability.md
// "Failing closed") these are refused, and a reply to any other need not wait for the log.
import { type Command } from './protocol/command.js';

/** True when `command` changes what is stored (a queue `/open`, `/abort` or peek does not). */
export function needsWrite(command: Command): boolean {
  switch (command.kind) {
    case 'get':
      return command.keys.some((k) => k.close || (k.cursor !== undefined ? !k.peek : !k.open && !k.peek && !k.abort));
    case 'set':
    case 'delete':
    case 'flush':
    case 'flush_all':
    case 'flush_expired':
    case 'flush_all_expired':
    case 'confirm':
      return true;
    case 'status':
      return command.value !== undefined;
    default:
      return false;
  }
}
