// The fixed replies the session's command handlers share, defined once.
import { type Reply } from './protocol/command.js';

export const END: Reply = { kind: 'end' };
export const OK: Reply = { kind: 'ok' };
export const STORED: Reply = { kind: 'stored' };
export const NOT_STORED: Reply = { kind: 'not_stored' };
/** A get that found nothing (answered as END). */
export const EMPTY_VALUES: Reply = { kind: 'values', values: [] };
