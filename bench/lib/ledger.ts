// A mixed load whose every reply is written down, and the exact account it allows after a
// restart: every STORED item is there or was consumed, no item whose consuming reply arrived
// comes back, every item held open comes back. Shared by the fault tests and bench/torture.ts.
import net from 'node:net';

/** One connection, one request at a time: sends a command, resolves with its whole reply. */
export class TextClient {
  private buf: Buffer = Buffer.alloc(0);
  private wake: (() => void) | null = null;
  private ended = false;

  private constructor(private readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
      this.wake?.();
    });
    socket.on('close', () => {
      this.ended = true;
      this.wake?.();
    });
    socket.on('error', () => undefined);
  }

  static connect(port: number, host = '127.0.0.1'): Promise<TextClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(port, host, () => resolve(new TextClient(socket)));
      socket.once('error', reject);
    });
  }

  /** Sends `text`; the reply: one line, or VALUE blocks through END. Throws if the server goes. */
  async call(text: string | Buffer): Promise<string> {
    this.socket.write(text);
    for (;;) {
      const end = replyEnd(this.buf);
      if (end > 0) {
        const reply = this.buf.toString('latin1', 0, end);
        this.buf = this.buf.subarray(end);
        return reply;
      }
      if (this.ended) throw new Error('connection closed');
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = null;
    }
  }

  close(): void {
    this.socket.destroy();
  }
}

/** Where the first whole reply in `buf` ends (0: not complete yet). */
function replyEnd(buf: Buffer): number {
  let at = 0;
  for (;;) {
    const nl = buf.indexOf('\r\n', at);
    if (nl < 0) return 0;
    const line = buf.toString('latin1', at, nl);
    if (!line.startsWith('VALUE ')) return nl + 2;
    at = nl + 2 + Number(line.split(' ')[3]) + 2;
    if (at > buf.length) return 0;
  }
}

export function setCmd(queue: string, value: string): Buffer {
  const data = Buffer.from(value, 'latin1');
  return Buffer.concat([Buffer.from(`set ${queue} 0 0 ${data.length}\r\n`, 'latin1'), data, Buffer.from('\r\n')]);
}

export interface Ledger {
  /** Values whose STORED arrived. */
  stored: Set<string>;
  /** Values whose consuming reply arrived (a plain get's VALUE, or the END of its /close). */
  consumed: Set<string>;
  /** Values opened whose /close was sent but not answered: consumed or not, either is right. */
  closing: Set<string>;
  /** Values opened and never closed: they must come back. */
  held: Set<string>;
  /** Plain gets sent and never answered: each may have consumed one item nobody saw. */
  unansweredGets: number;
  /** Error replies seen, by text (SERVER_ERROR while a fault lasts). */
  errors: Map<string, number>;
}

export function newLedger(): Ledger {
  return { stored: new Set(), consumed: new Set(), closing: new Set(), held: new Set(), unansweredGets: 0, errors: new Map() };
}

function valueOf(reply: string): string | undefined {
  if (!reply.startsWith('VALUE ')) return undefined;
  const body = reply.slice(reply.indexOf('\r\n') + 2);
  return body.slice(0, body.indexOf('\r\n'));
}

function noteError(ledger: Ledger, reply: string): void {
  const line = reply.split('\r\n')[0]!;
  if (line.startsWith('SERVER_ERROR') || line.startsWith('CLIENT_ERROR') || line.startsWith('ERROR')) {
    ledger.errors.set(line, (ledger.errors.get(line) ?? 0) + 1);
  }
}

export interface LoadOptions {
  port: number;
  /** Distinguishes this load's values from every other's. */
  tag: string;
  workers: number;
  queues: string[];
  /** Stop after this many operations per worker (or when the server goes away, or `stop()`). */
  maxOps: number;
  valueBytes?: number;
  /** Pause this long after an error reply, so a failing server is not spun on. */
  errorPauseMs?: number;
}

/**
 * Runs `workers` connections, each doing sets, plain gets and /open + /close pairs in a random
 * mix, one request at a time, until maxOps, `stop()`, or the connection dies. Resolves when all
 * have ended.
 */
export function runLoad(o: LoadOptions, ledger: Ledger): { done: Promise<void>; stop(): void } {
  let stopped = false;
  const pad = 'x'.repeat(Math.max(0, (o.valueBytes ?? 32) - 16));
  const worker = async (w: number) => {
    let client: TextClient;
    try {
      client = await TextClient.connect(o.port);
    } catch {
      return;
    }
    let n = 0;
    try {
      for (; n < o.maxOps && !stopped; n++) {
        const queue = o.queues[Math.floor(Math.random() * o.queues.length)]!;
        const dice = Math.random();
        let reply: string;
        if (dice < 0.5) {
          const value = `${o.tag}-${w}-${n}-${pad}`;
          reply = await client.call(setCmd(queue, value));
          if (reply === 'STORED\r\n') ledger.stored.add(value);
        } else if (dice < 0.75) {
          ledger.unansweredGets++;
          reply = await client.call(`get ${queue}\r\n`);
          ledger.unansweredGets--;
          const value = valueOf(reply);
          if (value !== undefined) ledger.consumed.add(value);
        } else {
          reply = await client.call(`get ${queue}/open\r\n`);
          const value = valueOf(reply);
          if (value !== undefined) {
            ledger.closing.add(value);
            reply = await client.call(`get ${queue}/close\r\n`);
            if (reply === 'END\r\n') {
              ledger.closing.delete(value);
              ledger.consumed.add(value);
            } else {
              noteError(ledger, reply);
              // Not closed (refused): hand it back, so this connection can read the queue again.
              reply = await client.call(`get ${queue}/abort\r\n`);
            }
          }
        }
        noteError(ledger, reply);
        if (reply.startsWith('SERVER_ERROR') && o.errorPauseMs) await new Promise((r) => setTimeout(r, o.errorPauseMs));
      }
    } catch {
      // the server went away (kill -9): the request in flight stays unanswered
    } finally {
      client.close();
    }
  };
  const done = Promise.all(Array.from({ length: o.workers }, (_, w) => worker(w))).then(() => undefined);
  return {
    done,
    stop: () => {
      stopped = true;
    },
  };
}

/**
 * Opens one item of `queue` on each of `count` new connections and keeps them open (never
 * closed): after a crash, each must be back in the queue.
 */
export async function holdOpen(port: number, queue: string, count: number, ledger: Ledger): Promise<TextClient[]> {
  const clients: TextClient[] = [];
  for (let i = 0; i < count; i++) {
    const client = await TextClient.connect(port);
    clients.push(client);
    const value = valueOf(await client.call(`get ${queue}/open\r\n`));
    if (value === undefined) break;
    ledger.held.add(value);
  }
  return clients;
}

/** Takes every item out of `queues` with plain gets; the values in the order served. */
export async function drain(port: number, queues: string[], limit = 1_000_000): Promise<string[]> {
  const client = await TextClient.connect(port);
  const out: string[] = [];
  try {
    for (const queue of queues) {
      for (let i = 0; i < limit; i++) {
        const reply = await client.call(`get ${queue}\r\n`);
        const value = valueOf(reply);
        if (value === undefined) {
          if (reply !== 'END\r\n') throw new Error(`drain ${queue}: ${reply}`);
          break;
        }
        out.push(value);
      }
    }
  } finally {
    client.close();
  }
  return out;
}

export interface Account {
  stored: number;
  consumed: number;
  remaining: number;
  /** STORED, never seen consumed, not there after the restart (beyond what unanswered gets explain). */
  lost: string[];
  /** Consumed (reply received), yet there again after the restart. */
  resurrected: string[];
  /** Held open, not there after the restart. */
  openLost: string[];
  duplicates: string[];
  /** Missing STORED items that unanswered plain gets may have taken. */
  explainedByUnansweredGets: number;
}

/** The exact account of `ledger` against what a restarted server served (`remaining`). */
export function account(ledger: Ledger, remaining: string[], tag: string): Account {
  const left = new Set<string>();
  const duplicates: string[] = [];
  for (const v of remaining) {
    if (!v.startsWith(`${tag}-`)) continue;
    if (left.has(v)) duplicates.push(v);
    left.add(v);
  }
  const resurrected = [...ledger.consumed].filter((v) => left.has(v));
  const openLost = [...ledger.held].filter((v) => !left.has(v));
  let missing = [...ledger.stored].filter((v) => !left.has(v) && !ledger.consumed.has(v) && !ledger.closing.has(v) && !ledger.held.has(v));
  const explained = Math.min(missing.length, ledger.unansweredGets);
  // Each unanswered plain get may have consumed (and logged) one item whose reply was lost.
  missing = missing.slice(explained);
  return {
    stored: ledger.stored.size,
    consumed: ledger.consumed.size,
    remaining: left.size,
    lost: missing,
    resurrected,
    openLost,
    duplicates,
    explainedByUnansweredGets: explained,
  };
}
