// In-process core: a QueueManager over a real Store (LevelDB in a temp dir) on a manual clock,
// and Sessions served over real loopback sockets with the real text framing.
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { type QueueConfig, type ServerQueueConfig, defaultServerQueueConfig } from '../../src/config.js';
import { InputBudget } from '../../src/limits.js';
import { QueueManager } from '../../src/manager.js';
import { TextFraming } from '../../src/protocol/text.js';
import { Session } from '../../src/session.js';
import { Store } from '../../src/store/store.js';
import { ManualClock } from '../helpers/clock.js';
import { TextClient } from '../helpers/textClient.js';

const silent = pino({ enabled: false });

/** Queue options for every queue, and for named ones. */
export function queueConfig(defaults: Partial<QueueConfig> = {}, named: Record<string, Partial<QueueConfig>> = {}): ServerQueueConfig {
  const config = defaultServerQueueConfig();
  Object.assign(config.defaults, defaults);
  for (const [name, own] of Object.entries(named)) config.queues.set(name, own);
  return config;
}

export interface Core {
  dir: string;
  clock: ManualClock;
  manager: QueueManager;
  /** Closes the manager (and store) and opens them again on the same directory. */
  reopen(): Promise<void>;
  close(): Promise<void>;
}

/** A manager over a fresh store in a temp dir, on a manual clock. */
export async function openCore(config: ServerQueueConfig = queueConfig()): Promise<Core> {
  const dir = mkdtempSync(path.join(tmpdir(), 'siberite-core-'));
  // Starts at the real time: until Queue takes the manager's clock, it judges expiry by Date.now().
  const clock = new ManualClock(Date.now());
  const open = async () => {
    const store = await Store.open(dir, { syncAlways: false, readBytes: 1024 * 1024 });
    return QueueManager.open(store, { log: silent, fsync: 'never', queueConfig: config, windowMemory: 16 * 1024 * 1024, clock });
  };
  const core: Core = {
    dir,
    clock,
    manager: await open(),
    async reopen() {
      await core.manager.close();
      core.manager = await open();
    },
    async close() {
      await core.manager.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return core;
}

export interface Served extends Core {
  /** A new client connection over loopback. */
  connect(): Promise<TextClient>;
  /** Resolves when the server side of the next connection to close has closed its Session. */
  nextSessionClose(): Promise<void>;
}

/** `openCore`, plus a loopback listener that serves each connection with a Session. */
export async function serveCore(config?: ServerQueueConfig): Promise<Served> {
  const core = await openCore(config);
  const sockets = new Set<net.Socket>();
  let onClose: Array<() => void> = [];
  const listener = net.createServer((socket) => {
    sockets.add(socket);
    const session = new Session(socket, new TextFraming({ maxItemSize: 1024 * 1024 }), core.manager, {
      valueKey: 'queue',
      allowShutdown: false,
      log: silent,
      inputBudget: new InputBudget(64 * 1024 * 1024),
      onShutdown: () => undefined,
      onReload: async () => null,
    });
    socket.on('data', (chunk: Buffer) => session.receive(chunk));
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      sockets.delete(socket);
      session.close();
      const waiting = onClose;
      onClose = [];
      for (const resolve of waiting) resolve();
    });
  });
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  const port = (listener.address() as net.AddressInfo).port;
  const clients: TextClient[] = [];
  return {
    ...core,
    get manager() {
      return core.manager;
    },
    async connect() {
      const client = await TextClient.connect(port);
      clients.push(client);
      return client;
    },
    nextSessionClose: () => new Promise<void>((resolve) => onClose.push(resolve)),
    async close() {
      for (const client of clients) client.close();
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => listener.close(() => resolve()));
      await core.close();
    },
  };
}

/** Lets the event loop turn (I/O included) until `condition` holds; bounded. */
export async function until(condition: () => boolean, turns = 10_000): Promise<void> {
  for (let i = 0; i < turns && !condition(); i++) await new Promise((resolve) => setImmediate(resolve));
  if (!condition()) throw new Error(`condition not met after ${turns} turns`);
}
