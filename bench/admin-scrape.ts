// admin-scrape: what the admin surface costs with many queues, and whether it stalls the queue
// port. Starts the server with -admin on loopback, creates --queues queues (one small item each,
// pipelined), then for each endpoint runs --requests requests one after another while a client
// on the queue port sends `version` back to back, and prints per endpoint: reply size, request
// time (median / max), and the queue port's round trip (median / max) meanwhile — against the
// same round trip with no admin request running.
import http from 'node:http';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { Args, runWithOptions } from './lib/cli.js';
import { freePort, makeScratchDir, ServerProcess, SIBERITE_COMMAND, siberiteCommand } from './lib/server.js';
import { formatInt, round, TablePrinter } from './lib/stats.js';

const TOOL = 'admin-scrape';
const USAGE = `usage: node dist/bench/admin-scrape.js [options]

  --cli <path>        the siberite command to start              [bin/siberite]
  --queues <n>        queues to create                           [100000]
  --requests <n>      requests per endpoint                      [5]
  --max-queues <n>    -metrics-max-queues                        [100]`;

interface Options {
  cli: string;
  queues: number;
  requests: number;
  maxQueues: number;
}

function parse(argv: string[]): Options | null {
  const args = new Args(argv, ['cli', 'queues', 'requests', 'max-queues'], ['help']);
  if (args.flag('help')) return null;
  return {
    cli: siberiteCommand(args.str('cli', SIBERITE_COMMAND)),
    queues: args.int('queues', 100_000, 1, 10_000_000),
    requests: args.int('requests', 5, 1, 1000),
    maxQueues: args.int('max-queues', 100, 0, 100_000),
  };
}

/** A queue-port client that sends `version` back to back and records each round trip (ms). */
class Pinger {
  private readonly times: number[] = [];
  private running = false;
  private sentAt = 0;
  private buf = '';
  private done: (() => void) | null = null;

  constructor(private readonly socket: net.Socket) {
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      this.buf += chunk;
      if (!this.buf.includes('\r\n')) return;
      this.buf = '';
      this.times.push(performance.now() - this.sentAt);
      if (this.running) this.send();
      else this.done?.();
    });
  }

  private send(): void {
    this.sentAt = performance.now();
    this.socket.write('version\r\n');
  }

  start(): void {
    this.times.length = 0;
    this.running = true;
    this.send();
  }

  async stop(): Promise<number[]> {
    this.running = false;
    await new Promise<void>((resolve) => (this.done = resolve));
    return [...this.times].sort((a, b) => a - b);
  }
}

function get(port: number, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
        let bytes = 0;
        res.on('data', (c: Buffer) => (bytes += c.length));
        res.on('end', () => (res.statusCode === 200 ? resolve(bytes) : reject(new Error(`${path}: ${res.statusCode}`))));
      })
      .on('error', reject);
  });
}

async function createQueues(port: number, count: number): Promise<void> {
  const socket = net.connect(port, '127.0.0.1');
  await new Promise((r) => socket.once('connect', r));
  const BATCH = 5000;
  for (let from = 0; from < count; from += BATCH) {
    const n = Math.min(BATCH, count - from);
    let text = '';
    for (let i = from; i < from + n; i++) text += `set q${i} 0 0 1\r\nx\r\n`;
    await new Promise<void>((resolve) => {
      let seen = 0;
      const onData = (chunk: Buffer) => {
        seen += chunk.toString('latin1').split('STORED\r\n').length - 1;
        if (seen >= n) {
          socket.off('data', onData);
          resolve();
        }
      };
      socket.on('data', onData);
      socket.write(text);
    });
  }
  socket.destroy();
}

const median = (sorted: number[]) => sorted[Math.floor(sorted.length / 2)] ?? NaN;
const ms = (x: number) => String(round(x, 1));

async function main(opts: Options): Promise<number> {
  const scratch = makeScratchDir('siberite-admin-scrape-');
  const [port, adminPort] = [await freePort('127.0.0.1'), await freePort('127.0.0.1')];
  const server = ServerProcess.spawn({
    command: opts.cli,
    host: '127.0.0.1',
    port,
    dataDir: scratch.path,
    extraArgs: ['-admin', `127.0.0.1:${adminPort}`, '-metrics-max-queues', String(opts.maxQueues)],
  });
  try {
    await server.waitReady(30_000);
    const t0 = performance.now();
    await createQueues(port, opts.queues);
    process.stdout.write(`${TOOL}: ${formatInt(opts.queues)} queues created in ${ms((performance.now() - t0) / 1000)} s\n\n`);
    const socket = net.connect(port, '127.0.0.1');
    await new Promise((r) => socket.once('connect', r));
    const pinger = new Pinger(socket);
    const table = new TablePrinter([
      { title: 'endpoint', width: 34, align: 'left' },
      { title: 'reply bytes', width: 12 },
      { title: 'request p50 ms', width: 14 },
      { title: 'request max ms', width: 14 },
      { title: 'queue port p50 ms', width: 17 },
      { title: 'queue port max ms', width: 17 },
    ]);
    table.header();
    pinger.start();
    await new Promise((r) => setTimeout(r, 1000));
    const idle = await pinger.stop();
    table.row(['(no admin request)', '-', '-', '-', ms(median(idle)), ms(idle[idle.length - 1]!)]);
    for (const path of [
      '/metrics',
      '/stats.json',
      '/api/queues?sort=items&limit=50',
      `/api/queues?sort=name&offset=${Math.min(10_000, Math.max(0, opts.queues - 50))}`,
      '/api/overview',
    ]) {
      const times: number[] = [];
      let bytes = 0;
      pinger.start();
      for (let i = 0; i < opts.requests; i++) {
        const started = performance.now();
        bytes = await get(adminPort, path);
        times.push(performance.now() - started);
      }
      const pings = await pinger.stop();
      times.sort((a, b) => a - b);
      table.row([
        path.length > 34 ? `${path.slice(0, 31)}...` : path,
        formatInt(bytes),
        ms(median(times)),
        ms(times[times.length - 1]!),
        ms(median(pings)),
        ms(pings[pings.length - 1]!),
      ]);
    }
    socket.destroy();
    return 0;
  } finally {
    await server.stop();
    scratch.remove();
  }
}

runWithOptions(TOOL, USAGE, parse, main);
