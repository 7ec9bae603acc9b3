// Per-queue options (docs/protocol.md#queue-limits-expiry-and-configuration) and their defaults.

export type FsyncMode = 'never' | 'always' | number;

export interface QueueConfig {
  /** The queue is full at this many items. */
  maxItems: number;
  /** The queue is full at this many bytes. */
  maxSize: number;
  maxItemSize: number;
  discardOldWhenFull: boolean;
  /** ms; no item lives longer. */
  maxAge: number | null;
  expireToQueue: string | null;
  /** ms an item may stay open before it returns to the head by itself. */
  openTransactionTimeout: number | null;
  maxOpenTransactions: number;
  /** undefined: the server's default. */
  fsync: FsyncMode | undefined;
}

export const DEFAULT_MAX_ITEM_SIZE = 16 * 1024 * 1024;

export const DEFAULT_QUEUE_CONFIG: Readonly<QueueConfig> = Object.freeze({
  maxItems: Infinity,
  maxSize: Infinity,
  maxItemSize: DEFAULT_MAX_ITEM_SIZE,
  discardOldWhenFull: false,
  maxAge: null,
  expireToQueue: null,
  openTransactionTimeout: null,
  maxOpenTransactions: 1,
  fsync: undefined,
});

/** The configuration every queue starts from, and the overrides of named queues. */
export interface ServerQueueConfig {
  defaults: QueueConfig;
  queues: Map<string, Partial<QueueConfig>>;
}

export function queueConfigFor(config: ServerQueueConfig, name: string): QueueConfig {
  const own = config.queues.get(name);
  return own ? { ...config.defaults, ...own } : config.defaults;
}

export function defaultServerQueueConfig(): ServerQueueConfig {
  return { defaults: { ...DEFAULT_QUEUE_CONFIG }, queues: new Map() };
}

/** The admin HTTP server (`-admin host:port`; off unless given): metrics, probes, dashboard. */
export interface AdminConfig {
  host: string;
  port: number;
  /** Per-queue metric series: the deepest N queues, the rest summed as queue="_other". */
  metricsMaxQueues: number;
  /** SHA-256 of the bearer token (-admin-token-file); null: none. */
  token?: Buffer | null;
}

/** `host:port`, `:port`, `port` or `[v6]:port`. */
export function parseListen(value: string, flag = '-listen'): { host: string; port: number } {
  let host = '0.0.0.0';
  let portText = value;
  const v6 = /^\[([^\]]+)\]:(\d+)$/.exec(value);
  if (v6) {
    host = v6[1]!;
    portText = v6[2]!;
  } else if (value.includes(':')) {
    const at = value.lastIndexOf(':');
    host = value.slice(0, at) || host;
    portText = value.slice(at + 1);
  }
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port > 65535) throw new Error(`bad ${flag} address "${value}" (want host:port)`);
  return { host, port };
}
