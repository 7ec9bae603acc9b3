// `import { Client } from 'siberite/client'` — the public surface of the cluster client.
export { Client } from './client.js';
export type { ClientOptions, ConsumeOptions, PutOptions, ReadOptions, ServerStats, ServerStatus } from './client.js';
export { Message } from './message.js';
export type { MessageState } from './message.js';
export { ReplyError, SiberiteError } from './errors.js';
export type { SiberiteErrorCode } from './errors.js';
export type { DnsOptions } from './servers.js';
export { ReplyReader, ProtocolError } from './reader.js';
export type { Reply, ReplyShape, Value } from './reader.js';
