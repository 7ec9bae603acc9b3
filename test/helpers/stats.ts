// Reading the text protocol's `stats` reply (docs/protocol.md#statistics), and polling it: a server-side effect
// without a client-visible event (a waiter parking, a disconnect handled, a sweep passing) can
// only be waited for by asking `stats` again, always with a bound.
import { TextClient } from './textClient.js';

/** One stat's value in a `stats` reply, or undefined when it is not listed. */
export function stat(stats: string, key: string): string | undefined {
  const m = new RegExp(`^STAT ${key.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} (\\S*)\\r$`, 'm').exec(stats);
  return m?.[1];
}

/** A `stats` reply as a map of STAT name → value. */
export function parseStats(stats: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of stats.split('\r\n')) {
    const [word, key, value] = line.split(' ');
    if (word === 'STAT' && key !== undefined && value !== undefined) out.set(key, value);
  }
  return out;
}

/** Sends `stats` on `c`; the reply as a map. */
export async function statsOf(c: TextClient): Promise<Map<string, string>> {
  return parseStats(await c.call('stats\r\n'));
}

/** One stat's current value, asked on `c`. */
export async function statOf(c: TextClient, key: string): Promise<string | undefined> {
  return stat(await c.call('stats\r\n'), key);
}

/** `queue_<q>_<key>`, asked on `c`. */
export async function queueStat(c: TextClient, q: string, key: string): Promise<string | undefined> {
  return statOf(c, `queue_${q}_${key}`);
}

/** Several `queue_<q>_<key>` stats of one `stats` reply, by key. */
export async function queueStats(c: TextClient, q: string, keys: string[]): Promise<Record<string, string | undefined>> {
  const stats = await c.call('stats\r\n');
  return Object.fromEntries(keys.map((k) => [k, stat(stats, `queue_${q}_${k}`)]));
}

/** The bound of a poll: at most `tries` rounds `intervalMs` apart, and none after `limitMs`. */
export interface PollBound {
  /** Default 400. */
  tries?: number;
  /** Default 5. */
  intervalMs?: number;
  /** Default: no time limit beyond `tries`. */
  limitMs?: number;
}

type Want = string | ((v: string | undefined) => boolean);

const matches = (want: Want, got: string | undefined): boolean => (typeof want === 'string' ? got === want : want(got));

/**
 * Polls `stats` on `c` (bounded) until every stat in `want` has its wanted value (or satisfies
 * its predicate); returns the values seen last. Throws naming what the stats stayed at.
 */
export async function waitForStats(
  c: TextClient,
  want: Record<string, Want>,
  { tries = 400, intervalMs = 5, limitMs = Number.POSITIVE_INFINITY }: PollBound = {},
): Promise<Record<string, string | undefined>> {
  const deadline = Date.now() + limitMs;
  const keys = Object.keys(want);
  let got: Record<string, string | undefined> = {};
  for (let i = 0; i < tries && Date.now() < deadline; i++) {
    const stats = await c.call('stats\r\n');
    got = Object.fromEntries(keys.map((k) => [k, stat(stats, k)]));
    if (keys.every((k) => matches(want[k]!, got[k]))) return got;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  const wanted = Object.fromEntries(keys.map((k) => [k, typeof want[k] === 'string' ? want[k] : '(a predicate)']));
  throw new Error(`stats stayed ${JSON.stringify(got)}, want ${JSON.stringify(wanted)}`);
}

/** Polls `stats` on `c` (bounded) until `key` has the value `want` (or satisfies it); returns it. */
export async function waitForStat(c: TextClient, key: string, want: Want, bound?: PollBound): Promise<string | undefined> {
  return (await waitForStats(c, { [key]: want }, bound))[key];
}

/** Polls `stats` on a connection of its own (bounded) until `queue` has `n` blocked readers. */
export async function waitForWaiters(port: number, queue: string, n: number): Promise<void> {
  const t = await TextClient.connect(port);
  try {
    await waitForStat(t, `queue_${queue}_waiters`, String(n), { tries: 500, intervalMs: 5 });
  } finally {
    t.close();
  }
}

/** Closes `c` and waits until the server has handled the disconnect (seen from `observer`). */
export async function closeAndWait(c: TextClient, observer: TextClient, bound?: PollBound): Promise<void> {
  const before = Number(await statOf(observer, 'curr_connections'));
  c.close();
  await waitForStat(observer, 'curr_connections', String(before - 1), bound);
}
