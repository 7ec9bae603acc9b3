// When an item has expired (docs/protocol.md#queue-limits-expiry-and-configuration).
import { type Item } from './store/layout.js';

/** True once `item` is past its expiry (0: it never expires) at `now` (ms since epoch). */
export function isExpired(item: Item, now: number): boolean {
  return item.expiry !== 0 && item.expiry <= now;
}
