// Load traffic may only ever go to this machine: every bench refuses non-loopback hosts.

import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';

/** True for 127.0.0.0/8, ::1 and IPv4-mapped ::ffff:127.x.x.x literals. */
export function isLoopbackAddress(address: string): boolean {
  let a = address.trim();
  if (a.startsWith('[') && a.endsWith(']')) a = a.slice(1, -1);
  const kind = isIP(a);
  if (kind === 4) return a.split('.')[0] === '127';
  if (kind === 6) {
    const lower = a.toLowerCase();
    if (lower === '::1' || lower === '0:0:0:0:0:0:0:1') return true;
    const mapped = /^(?:0{0,4}:){0,5}:?ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(lower);
    return mapped !== null && isLoopbackAddress(mapped[1]!);
  }
  return false;
}

/**
 * Resolves `host` to a loopback IP literal, or throws with a clear message.
 * Only IP literals and the name `localhost` (whose every address must be loopback) are accepted.
 */
export async function resolveLoopbackHost(host: string): Promise<string> {
  const refuse = (why: string): never => {
    throw new Error(
      `refusing host ${JSON.stringify(host)}: ${why}. ` + 'Load traffic may only go to a loopback address (127.0.0.0/8, ::1 or localhost).',
    );
  };
  let h = host.trim();
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1);
  if (isIP(h) !== 0) {
    if (!isLoopbackAddress(h)) refuse('not a loopback address');
    return h;
  }
  if (h.toLowerCase() !== 'localhost') refuse('only IP literals and "localhost" are accepted');
  const addrs = await lookup(h, { all: true });
  if (addrs.length === 0) refuse('"localhost" did not resolve');
  for (const a of addrs) {
    if (!isLoopbackAddress(a.address)) refuse(`"localhost" resolves to ${a.address}, which is not loopback`);
  }
  return addrs[0]!.address;
}
