// Reloading the configuration file (README "Configuration", docs/protocol.md#server-commands `reload`, docs/protocol.md#command-line): the
// `reload` command and SIGHUP apply a rewritten file to live queues without dropping connections;
// a broken file is refused and the old configuration stays in force; a bad file at start-up is
// refused with a message naming the file and the key.
import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { sleep, useServer } from './helpers/fixtures.js';
import { CLI } from './helpers/server.js';
import { stat } from './helpers/stats.js';
import { TextClient, setCmd, value } from './helpers/textClient.js';

const fx = useServer({ config: { queues: { live: { max_items: 5 } } }, tmpPrefix: 'siberite-reload-' });
const { connect, writeConfig } = fx;

/**
 * Sends `set` until it is STORED (bounded, ~3 s). A signal has no reply: its effect is the only
 * thing a client can see. Each refused set changes nothing, so retrying is safe.
 */
async function setUntilStored(c: TextClient, q: string, data: string): Promise<void> {
  let reply = '';
  const deadline = Date.now() + 3000;
  for (let i = 0; i < 300 && Date.now() < deadline; i++) {
    reply = await c.call(setCmd(q, data));
    if (reply === 'STORED\r\n') return;
    expect(reply).toBe('NOT_STORED\r\n');
    await sleep(10);
  }
  throw new Error(`set ${q} never stored; last reply ${JSON.stringify(reply)}`);
}

/** How many failed reloads the server has logged. */
function countFailures(): number {
  return fx.server
    .output()
    .split('\n')
    .filter((l) => /reload failed/.test(l)).length;
}

/** Runs the CLI with `args` until it exits; its exit code and output. */
function runCli(args: string[], ms = 10_000): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    proc.stdout.on('data', (c: Buffer) => (output += c.toString()));
    proc.stderr.on('data', (c: Buffer) => (output += c.toString()));
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`siberite did not exit in ${ms} ms:\n${output}`));
    }, ms);
    proc.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

describe('reload', () => {
  // The tests below run in order on one server and one config file.
  let c: TextClient;

  it('`reload` applies a lowered max_items to a live queue; the connection stays', async () => {
    c = await connect();
    for (const v of ['1', '2', '3']) expect(await c.call(setCmd('live', v))).toBe('STORED\r\n');
    expect(await c.call(setCmd('live', '4'))).toBe('STORED\r\n');
    expect(await c.call('get live\r\n')).toBe(value('live', '1'));
    // 3 items held, limit 5. Lower the limit to 3 while connected.
    writeConfig({ queues: { live: { max_items: 3 } } });
    expect(await c.call('reload\r\n')).toBe('Reloaded config.\r\n');
    expect(await c.call(setCmd('live', '5'))).toBe('NOT_STORED\r\n');
    expect(c.closed).toBe(false);
    expect(stat(await c.call('stats\r\n'), 'queue_live_items')).toBe('3');
    // The items already held are untouched.
    expect(await c.call('get live/peek\r\n')).toBe(value('live', '2'));
  });

  it('applies to queues named for the first time in the new file, and to default', async () => {
    writeConfig({ default: { max_items: 1 }, queues: { live: { max_items: 3 }, fresh: { max_items: 2 } } });
    expect(await c.call('reload\r\n')).toBe('Reloaded config.\r\n');
    expect(await c.call(setCmd('fresh', 'a'))).toBe('STORED\r\n');
    expect(await c.call(setCmd('fresh', 'b'))).toBe('STORED\r\n');
    expect(await c.call(setCmd('fresh', 'c'))).toBe('NOT_STORED\r\n');
    expect(await c.call(setCmd('other', 'a'))).toBe('STORED\r\n');
    expect(await c.call(setCmd('other', 'b'))).toBe('NOT_STORED\r\n');
    expect(await c.call(setCmd('live', 'x'))).toBe('NOT_STORED\r\n');
  });

  it('SIGHUP reloads too', async () => {
    // live holds 3 at limit 3; raise it to 4 and signal.
    writeConfig({ default: { max_items: 1 }, queues: { live: { max_items: 4 }, fresh: { max_items: 2 } } });
    fx.server.proc.kill('SIGHUP');
    await setUntilStored(c, 'live', 'hup');
    expect(await c.call(setCmd('live', 'over'))).toBe('NOT_STORED\r\n');
    expect(stat(await c.call('stats\r\n'), 'queue_live_items')).toBe('4');
    expect(c.closed).toBe(false);
    expect(fx.server.proc.exitCode).toBeNull();
  });

  it('a broken file → an error reply naming it; the old configuration stays in force', async () => {
    writeConfig('{ "queues": { "live": { "max_items": 10 }, }');
    const reply = await c.call('reload\r\n');
    expect(reply).toMatch(/^(SERVER_ERROR|CLIENT_ERROR|ERROR) .*\r\n$/);
    expect(reply).toContain(fx.configPath);
    expect(reply).not.toBe('Reloaded config.\r\n');
    // Still limit 4 (4 held), not 10.
    expect(await c.call(setCmd('live', 'no'))).toBe('NOT_STORED\r\n');

    // A well-formed file with a bad value: the message names the key.
    writeConfig({ queues: { live: { max_items: -5 } } });
    const bad = await c.call('reload\r\n');
    expect(bad).toMatch(/^(SERVER_ERROR|CLIENT_ERROR|ERROR) .*\r\n$/);
    expect(bad).toContain(fx.configPath);
    expect(bad).toContain('queues.live.max_items');
    expect(await c.call(setCmd('live', 'no'))).toBe('NOT_STORED\r\n');
    // default's max_items 1 is still in force too.
    expect(await c.call(setCmd('other', 'no'))).toBe('NOT_STORED\r\n');

    // SIGHUP with a broken file: the server keeps running with the old configuration.
    writeConfig({ queues: { live: { max_items: 'lots' } } });
    // The two refused `reload` commands above are logged asynchronously: count from after both.
    for (let i = 0; i < 300 && countFailures() < 2; i++) await sleep(10);
    const failuresBefore = countFailures();
    fx.server.proc.kill('SIGHUP');
    // A refused reload has no effect to see on the wire: wait for the server to log it.
    for (let i = 0; i < 300 && countFailures() === failuresBefore; i++) await sleep(10);
    expect(countFailures()).toBe(failuresBefore + 1);
    expect(await c.call(setCmd('live', 'no'))).toBe('NOT_STORED\r\n');
    expect(await c.call('version\r\n')).toMatch(/^VERSION /);
    expect(fx.server.proc.exitCode).toBeNull();

    writeConfig({ queues: { live: { max_items: 5 } } });
    expect(await c.call('reload\r\n')).toBe('Reloaded config.\r\n');
    expect(await c.call(setCmd('live', 'five'))).toBe('STORED\r\n');
    expect(await c.call(setCmd('live', 'six'))).toBe('NOT_STORED\r\n');
    // default no longer sets max_items: other is unlimited again.
    expect(await c.call(setCmd('other', 'b'))).toBe('STORED\r\n');
    expect(c.closed).toBe(false);
  });

  it('a reload changes max_open_transactions of a live queue', async () => {
    const d = await connect();
    writeConfig({ queues: { txq: { max_open_transactions: 1 } } });
    expect(await d.call('reload\r\n')).toBe('Reloaded config.\r\n');
    for (const v of ['a', 'b']) expect(await d.call(setCmd('txq', v))).toBe('STORED\r\n');
    expect(await d.call('get txq/open\r\n')).toBe(value('txq', 'a'));
    expect(await d.call('get txq/open\r\n')).toBe('CLIENT_ERROR Close current item first\r\n');
    writeConfig({ queues: { txq: { max_open_transactions: 2 } } });
    expect(await d.call('reload\r\n')).toBe('Reloaded config.\r\n');
    expect(await d.call('get txq/open\r\n')).toBe(value('txq', 'b'));
    expect(await d.call('get txq/close\r\n')).toBe('END\r\n');
    expect(await d.call('get txq/close\r\n')).toBe('END\r\n');
    expect(stat(await d.call('stats\r\n'), 'queue_txq_open_transactions')).toBe('0');
  });
});

describe('reload and max_item_size', () => {
  it('a reload that raises max_item_size above every start-up value takes effect', async () => {
    // At start-up the largest max_item_size is the 16 MiB default. Raise one queue to 20 MiB.
    const d = await connect();
    const big = Buffer.alloc(17 * 1024 * 1024, 0x61);
    writeConfig({ queues: { huge: { max_item_size: '20MiB' } } });
    expect(await d.call('reload\r\n')).toBe('Reloaded config.\r\n');
    expect(await d.call(setCmd('huge', big))).toBe('STORED\r\n');
    // A connection made after the reload too.
    const e = await connect();
    expect(await e.call(setCmd('huge', big))).toBe('STORED\r\n');
    expect(stat(await e.call('stats\r\n'), 'queue_huge_items')).toBe('2');
    // Other queues keep the 16 MiB default.
    expect(await e.call(setCmd('nothuge', big))).toBe('SERVER_ERROR object too large for cache\r\n');
    expect(await e.call('flush huge\r\n')).toBe('END\r\n');
  });
});

describe('start-up with a bad config file', () => {
  it('exits non-zero with a message naming the file and the key', async () => {
    const dir = dirname(fx.configPath);
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ queues: { jobs: { max_open_transactions: 0 } } }));
    const data = join(dir, 'data-bad');
    const r = await runCli(['-listen', '127.0.0.1:0', '-data', data, '-config', bad]);
    expect(r.code).not.toBe(0);
    expect(r.code).not.toBeNull();
    expect(r.output).toContain(bad);
    expect(r.output).toContain('queues.jobs.max_open_transactions');
    expect(r.output).not.toMatch(/listening/);
  });
});
