// cursor-rss: shows that a durable cursor far behind the head does not pull the queue into memory.
//
// 1. Fills one queue with --items items of --value-size bytes (pipelined sets, --window per write).
// 2. Reads every item through the cursor `<queue>.<cursor>` (pipelined gets, --window per write);
//    the cursor starts at the head, so during the whole read it is up to --items items behind.
// Every 10 % of each phase it prints a table row: items done, elapsed time, ops/s since the
// previous row, the server's resident memory (VmRSS of --pid, from /proc) and what the server
// reports for the queue (items, head-window items in memory) and the cursor (items ahead of it).
//
// The queue is deleted before the run (and after it, unless --keep), so runs are repeatable.
// Only loopback hosts are accepted: load traffic must not leave this machine.

import { performance } from 'node:perf_hooks';

import { Args, runLoadMain, UsageError } from './lib/cli.js';
import { rawCommand, serverStats } from './lib/commands.js';
import { bytesToMB, readRssBytes } from './lib/proc.js';
import { TablePrinter, formatInt } from './lib/stats.js';
import { Reply, ReplyParser, type ReplyKind, type ReplySink, type Socket, buildSet, connectSocket, makePayload } from './lib/textClient.js';

const TOOL = 'cursor-rss';
const USAGE = `usage: node dist/bench/cursor-rss.js [options]

  --host <addr>          loopback server address (127.0.0.0/8, ::1, localhost)  [127.0.0.1]
  --port <n>             server port                                            [22133]
  --pid <pid>            server process id: report its RSS (from /proc)
  --items <n>            items to write, then read through the cursor            [1000000]
  --value-size <bytes>   payload size of each item                               [64]
  --window <n>           requests per pipelined write                            [1000]
  --queue <name>         queue to use (deleted before the run!)                  [cursor_rss]
  --cursor <name>        cursor name                                             [c]
  --keep                 keep the queue afterwards (default: delete it)
  --help                 this text`;

interface Options {
  host: string;
  port: number;
  pid: number | null;
  items: number;
  valueSize: number;
  window: number;
  queue: string;
  cursor: string;
  keep: boolean;
}

const NAME = /^[\x21-\x7e]{1,200}$/;

function parseArgs(argv: string[]): Options | null {
  const a = new Args(argv, ['host', 'port', 'pid', 'items', 'value-size', 'window', 'queue', 'cursor'], ['keep']);
  if (a.help) return null;
  const name = (opt: string, def: string): string => {
    const v = a.str(opt, def);
    if (!NAME.test(v) || /[/.+]/.test(v))
      throw new UsageError(`--${opt} must be a queue name (printable ASCII, no "/", "." or "+"), got ${JSON.stringify(v)}`);
    return v;
  };
  return {
    host: a.str('host', '127.0.0.1'),
    port: a.int('port', 22133, 1, 65535),
    pid: a.optInt('pid', 1, 2 ** 31 - 1),
    items: a.int('items', 1_000_000, 1, 1_000_000_000),
    valueSize: a.int('value-size', 64, 0, 1024 * 1024),
    window: a.int('window', 1000, 1, 4096),
    queue: name('queue', 'cursor_rss'),
    cursor: name('cursor', 'c'),
    keep: a.flag('keep'),
  };
}

const CONNECT_TIMEOUT_MS = 5000;
/** No reply for this long while requests are outstanding: the run has failed. */
const STALL_TIMEOUT_MS = 30_000;

/** One connection, one window of pipelined requests at a time. */
class Pipeline implements ReplySink {
  private readonly parser = new ReplyParser(this);
  private expected = 0;
  private received = 0;
  private resolve: (() => void) | null = null;
  private reject: ((err: Error) => void) | null = null;
  private stallTimer: NodeJS.Timeout | null = null;
  /** Counts for the current window. */
  counts = { stored: 0, values: 0, ends: 0, other: 0 };
  firstUnexpected: string | null = null;

  constructor(private readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => this.parser.feed(chunk));
    socket.on('close', () => this.fail(new Error('connection closed by the server')));
    socket.on('error', (err: Error) => this.fail(new Error(`socket error: ${err.message}`)));
  }

  /** Writes `request` (holding `n` commands) and resolves when all `n` replies are in. */
  run(request: Buffer, n: number): Promise<void> {
    this.expected = n;
    this.received = 0;
    this.counts = { stored: 0, values: 0, ends: 0, other: 0 };
    return new Promise<void>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
      this.armStall();
      this.socket.write(request);
    });
  }

  onReply(kind: ReplyKind, values: number, line: string | null): void {
    if (kind === Reply.STORED) this.counts.stored++;
    else if (kind === Reply.VALUE) this.counts.values += values;
    else if (kind === Reply.END) this.counts.ends++;
    else {
      this.counts.other++;
      this.firstUnexpected ??= line;
    }
    if (++this.received === this.expected) this.done();
    else this.armStall();
  }

  onProtocolError(message: string): void {
    this.fail(new Error(`protocol error: ${message}`));
  }

  private armStall(): void {
    if (this.stallTimer) clearTimeout(this.stallTimer);
    this.stallTimer = setTimeout(() => this.fail(new Error(`no reply for ${STALL_TIMEOUT_MS / 1000} s`)), STALL_TIMEOUT_MS);
  }

  private done(): void {
    if (this.stallTimer) clearTimeout(this.stallTimer);
    this.stallTimer = null;
    const r = this.resolve;
    this.resolve = this.reject = null;
    r?.();
  }

  private fail(err: Error): void {
    if (this.stallTimer) clearTimeout(this.stallTimer);
    this.stallTimer = null;
    const r = this.reject;
    this.resolve = this.reject = null;
    r?.(err);
  }

  close(): void {
    this.parser.stop();
    this.socket.removeAllListeners('close');
    this.socket.destroy();
  }
}

interface Row {
  phase: string;
  done: number;
  elapsedS: number;
  opsPerSec: number;
  rssMB: number | null;
  queueItems: string;
  memItems: string;
  cursorItems: string;
}

/** Runs the bench against `host` (the loopback address opts.host resolved to). */
async function main(opts: Options, host: string): Promise<number> {
  const { queue, cursor, items, window } = opts;
  const key = `${queue}.${cursor}`;
  const rss = () => {
    const b = opts.pid === null ? null : readRssBytes(opts.pid);
    return b === null ? null : bytesToMB(b);
  };

  let socket: Socket;
  try {
    socket = await connectSocket(host, opts.port, CONNECT_TIMEOUT_MS);
  } catch (err) {
    process.stderr.write(`${TOOL}: cannot connect to ${host}:${opts.port}: ${(err as Error).message} (is the server running?)\n`);
    return 1;
  }
  const pipe = new Pipeline(socket);

  const deleted = await rawCommand(host, opts.port, `delete ${queue}\r\n`, /\r\n$/);
  if (deleted !== 'DELETED\r\n' && deleted !== 'NOT_FOUND\r\n') throw new Error(`delete ${queue}: ${deleted.trim()}`);

  process.stdout.write(
    `${TOOL} @ ${host}:${opts.port}: ${formatInt(items)} items x ${opts.valueSize} B into "${queue}", ` +
      `then read through cursor "${key}"; ${window} requests per pipelined write\n`,
  );
  const rss0 = rss();
  if (rss0 !== null) process.stdout.write(`server RSS before the run: ${rss0.toFixed(1)} MB\n`);
  process.stdout.write('\n');

  const table = new TablePrinter([
    { title: 'phase', width: 5, align: 'left' },
    { title: 'items done', width: 11 },
    { title: '%', width: 4 },
    { title: 'elapsed s', width: 9 },
    { title: 'ops/s', width: 9 },
    { title: 'RSS MB', width: 7 },
    { title: 'queue items', width: 11 },
    { title: 'queue mem_items', width: 15 },
    { title: 'cursor behind', width: 13 },
  ]);
  table.header();
  const rows: Row[] = [];
  let peakRss = rss0 ?? 0;
  const sampler =
    opts.pid === null
      ? null
      : setInterval(() => {
          const r = rss();
          if (r !== null && r > peakRss) peakRss = r;
        }, 250);

  /** Runs `total` requests in windows, printing a row at every 10 %. */
  const phase = async (name: string, one: Buffer, check: (p: Pipeline, n: number) => string | null): Promise<void> => {
    const full = Buffer.concat(Array.from({ length: window }, () => one));
    const start = performance.now();
    let done = 0;
    let lastDone = 0;
    let lastT = start;
    let nextMark = 1;
    while (done < items) {
      const n = Math.min(window, items - done);
      await pipe.run(n === window ? full : full.subarray(0, n * one.length), n);
      const problem = check(pipe, n);
      if (problem) throw new Error(`${name} at item ${done}: ${problem}`);
      done += n;
      if (done * 10 >= nextMark * items || done === items) {
        while (done * 10 >= nextMark * items) nextMark++;
        const now = performance.now();
        const st = await serverStats(host, opts.port);
        const row: Row = {
          phase: name,
          done,
          elapsedS: (now - start) / 1000,
          opsPerSec: ((done - lastDone) * 1000) / Math.max(1, now - lastT),
          rssMB: rss(),
          queueItems: st.get(`queue_${queue}_items`) ?? '-',
          memItems: st.get(`queue_${queue}_mem_items`) ?? '-',
          cursorItems: st.get(`queue_${key}_items`) ?? '-',
        };
        if (row.rssMB !== null && row.rssMB > peakRss) peakRss = row.rssMB;
        rows.push(row);
        table.row([
          row.phase,
          formatInt(row.done),
          String(Math.round((100 * done) / items)),
          row.elapsedS.toFixed(1),
          formatInt(row.opsPerSec),
          row.rssMB === null ? '-' : row.rssMB.toFixed(1),
          row.queueItems,
          row.memItems,
          row.cursorItems,
        ]);
        lastDone = done;
        lastT = performance.now();
      }
    }
  };

  let failure: string | null = null;
  try {
    await phase('fill', buildSet(queue, makePayload(opts.valueSize)), (p, n) =>
      p.counts.stored === n ? null : `${n - p.counts.stored} sets not STORED (first: ${p.firstUnexpected ?? 'END/VALUE'})`,
    );
    // Name the cursor at the head only now, so it is exactly `items` behind when reading starts.
    await phase('read', Buffer.from(`get ${key}\r\n`, 'latin1'), (p, n) =>
      p.counts.values === n ? null : `${n - p.counts.values} gets found nothing (first other reply: ${p.firstUnexpected ?? 'END'})`,
    );
    await pipe.run(Buffer.from(`get ${key}\r\n`, 'latin1'), 1);
    if (pipe.counts.ends !== 1) throw new Error(`the cursor has more than ${items} items`);
  } catch (err) {
    failure = (err as Error).message;
    process.stderr.write(`${TOOL}: ${failure}\n`);
  } finally {
    if (sampler) clearInterval(sampler);
    pipe.close();
  }

  if (opts.pid !== null) {
    const fillRows = rows.filter((r) => r.phase === 'fill');
    const readRows = rows.filter((r) => r.phase === 'read');
    const max = (rs: Row[]) => Math.max(...rs.map((r) => r.rssMB ?? 0));
    process.stdout.write(
      `\nRSS MB: before ${rss0?.toFixed(1) ?? '-'}, max at a fill row ${fillRows.length ? max(fillRows).toFixed(1) : '-'}, ` +
        `max at a read row ${readRows.length ? max(readRows).toFixed(1) : '-'}, peak sampled (250 ms) ${peakRss.toFixed(1)}\n`,
    );
  }
  if (!opts.keep) {
    try {
      await rawCommand(host, opts.port, `delete ${queue}\r\n`, /\r\n$/);
    } catch (err) {
      process.stderr.write(`${TOOL}: cleanup failed: ${(err as Error).message}\n`);
    }
  }
  return failure === null ? 0 : 1;
}

runLoadMain(TOOL, USAGE, parseArgs, main);
