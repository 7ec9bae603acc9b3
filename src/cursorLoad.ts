// Reading the recorded cursors back at startup: one record per cursor position and per retry entry.
import { type CursorState, decodeCursor } from './cursor.js';
import { CURSOR_PREFIX, RETRY_PREFIX, decodeRecord, namesFromCursorKey, namesFromRetryKey, prefixRange } from './store/layout.js';
import { type Store } from './store/store.js';

/** Every recorded cursor's state, by queue name, then cursor name. */
export async function loadCursorStates(store: Store): Promise<Map<string, Map<string, CursorState>>> {
  const states = new Map<string, Map<string, CursorState>>();
  const stateOf = (queue: string, cursor: string): CursorState => {
    let byCursor = states.get(queue);
    if (!byCursor) states.set(queue, (byCursor = new Map()));
    let state = byCursor.get(cursor);
    if (!state) byCursor.set(cursor, (state = { position: 0, retries: [] }));
    return state;
  };
  for (const [key, value] of await store.readRange(prefixRange(CURSOR_PREFIX))) {
    const [queue, cursor] = namesFromCursorKey(key);
    stateOf(queue, cursor).position = decodeCursor(value);
  }
  for (const [key, value] of await store.readRange(prefixRange(RETRY_PREFIX))) {
    const [queue, cursor, id] = namesFromRetryKey(key);
    const item = decodeRecord(id, value);
    if (!item.damaged) stateOf(queue, cursor).retries.push(item);
  }
  return states;
}
