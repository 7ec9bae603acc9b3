// Where the servers are: a fixed list of `host:port` strings, or one DNS name with many A/AAAA
// records (a Kubernetes headless service) looked up again every `refreshMs`. The client keeps
// one ServerNode per address; this module only produces the address lists.

import { lookup } from 'node:dns/promises';

import { badArg } from './errors.js';

export const DEFAULT_PORT = 22133;

export interface Address {
  host: string;
  port: number;
}

export interface DnsOptions {
  /** The name to resolve, e.g. `siberite.jobs.svc.cluster.local`. */
  name: string;
  /** The port every resolved address listens on. Default 22133. */
  port?: number;
  /** 4 or 6 to keep only that family; 0 (default) keeps both. */
  family?: 0 | 4 | 6;
  /** How often to resolve again, in ms. Default 30000. */
  refreshMs?: number;
  /**
   * The lookup itself; default dns.promises.lookup(name, { all: true, family }). Replace it to
   * plug in another discovery mechanism; it must resolve to the current list of IP addresses.
   */
  resolve?: (name: string, family: 0 | 4 | 6) => Promise<string[]>;
}

/** Parses `host:port`, `host` (default port), `[v6]:port` or `[v6]`. */
export function parseAddress(spec: string): Address {
  if (typeof spec !== 'string' || spec.trim() === '') throw badArg(`bad server address ${JSON.stringify(spec)}`);
  const s = spec.trim();
  let host: string;
  let portText: string | undefined;
  if (s.startsWith('[')) {
    const close = s.indexOf(']');
    if (close < 0) throw badArg(`bad server address ${JSON.stringify(spec)}: missing ']'`);
    host = s.slice(1, close);
    const rest = s.slice(close + 1);
    if (rest !== '' && !rest.startsWith(':')) throw badArg(`bad server address ${JSON.stringify(spec)}`);
    portText = rest === '' ? undefined : rest.slice(1);
  } else {
    const colon = s.lastIndexOf(':');
    if (colon >= 0 && s.indexOf(':') !== colon) {
      // A bare IPv6 literal without brackets: no port.
      host = s;
    } else {
      host = colon >= 0 ? s.slice(0, colon) : s;
      portText = colon >= 0 ? s.slice(colon + 1) : undefined;
    }
  }
  if (host === '') throw badArg(`bad server address ${JSON.stringify(spec)}: no host`);
  const port = portText === undefined ? DEFAULT_PORT : Number(portText);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw badArg(`bad server address ${JSON.stringify(spec)}: bad port`);
  return { host, port };
}

export async function defaultResolve(name: string, family: 0 | 4 | 6): Promise<string[]> {
  const all = await lookup(name, { all: true, family });
  return all.map((a) => a.address);
}

/** Resolves `dns` to a sorted, duplicate-free list of addresses. */
export async function resolveDns(dns: DnsOptions): Promise<Address[]> {
  const family = dns.family ?? 0;
  const port = dns.port ?? DEFAULT_PORT;
  const ips = await (dns.resolve ?? defaultResolve)(dns.name, family);
  return [...new Set(ips)].sort().map((host) => ({ host, port }));
}

export function checkDns(dns: DnsOptions): void {
  if (typeof dns.name !== 'string' || dns.name === '') throw badArg('dns.name must be a host name');
  if (dns.port !== undefined && (!Number.isInteger(dns.port) || dns.port < 1 || dns.port > 65535)) throw badArg('dns.port must be 1–65535');
  if (dns.family !== undefined && ![0, 4, 6].includes(dns.family)) throw badArg('dns.family must be 0, 4 or 6');
  if (dns.refreshMs !== undefined && (!Number.isFinite(dns.refreshMs) || dns.refreshMs < 100))
    throw badArg('dns.refreshMs must be at least 100');
}
