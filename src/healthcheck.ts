// The container health check (Dockerfile HEALTHCHECK, compose, or by hand): exit 0 when the server
// answers, 1 when it does not, with one line saying why.
//
// With an admin port it GETs /readyz there (ready = the store is open and writable); without one it
// sends `version` over the memcache port and expects `VERSION …` — so the image works whether or
// not the server was started with -admin. Where to look comes from, in order: flags
// (--admin host:port, --listen host:port), the environment (SIBERITE_HEALTH_ADMIN,
// SIBERITE_HEALTH_LISTEN), the server's own command line when it is PID 1 of the container (so a
// user who changes -listen or -admin in `docker run … siberite -listen …` keeps a working check),
// and last the image's defaults (memcache on 127.0.0.1:22133, no admin).
//
// It imports nothing from the server: a check starts a whole node process every interval, so it
// must load fast and stay small.
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect } from 'node:net';
import { pathToFileURL } from 'node:url';

export interface Target {
  host: string;
  port: number;
}

export interface HealthSettings {
  /** The admin HTTP port: check GET /readyz there. */
  admin?: Target;
  /** The memcache port: check `version` there when there is no admin port. */
  listen: Target;
  timeoutMs: number;
}

const DEFAULT_LISTEN: Target = { host: '127.0.0.1', port: 22133 };

/**
 * `host:port`, `:port`, `port` or `[v6]:port` as a place to connect to: a wildcard bind address
 * (0.0.0.0, ::, empty) becomes loopback, since the check runs beside the server.
 */
export function connectTarget(value: string): Target {
  const m = /^(?:\[([^\]]*)\]|([^:]*)):(\d+)$/.exec(value) ?? /^()()(\d+)$/.exec(value);
  const port = m ? Number(m[3]) : NaN;
  if (!m || !(port >= 1 && port <= 65535)) throw new Error(`bad address "${value}" (want host:port)`);
  const host = m[1] ?? m[2] ?? '';
  return { host: host === '' || host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host, port };
}

/** The value of `-name v`, `--name v`, `-name=v` or `--name=v` in an argument list. */
export function flagValue(args: readonly string[], name: string): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === `-${name}` || a === `--${name}`) return args[i + 1];
    if (a.startsWith(`-${name}=`) || a.startsWith(`--${name}=`)) return a.slice(a.indexOf('=') + 1);
  }
  return undefined;
}

/** The siberite command line of PID 1 (the container's server), or [] when PID 1 is something else. */
export function serverArgs(cmdlinePath = '/proc/1/cmdline'): string[] {
  try {
    const args = readFileSync(cmdlinePath, 'utf8')
      .split('\0')
      .filter((a) => a !== '');
    return args.some((a) => a.endsWith('cli.js') || a.endsWith('/siberite')) ? args : [];
  } catch {
    return [];
  }
}

export function resolveSettings(argv: readonly string[], env: NodeJS.ProcessEnv, pid1Args: readonly string[]): HealthSettings {
  const pick = (name: string, envName: string) => flagValue(argv, name) ?? env[envName] ?? flagValue(pid1Args, name);
  const admin = pick('admin', 'SIBERITE_HEALTH_ADMIN');
  const listen = pick('listen', 'SIBERITE_HEALTH_LISTEN');
  const timeout = Number(flagValue(argv, 'timeout') ?? 2000);
  if (!(timeout > 0 && timeout <= 60_000)) throw new Error('--timeout must be 1..60000 ms');
  return {
    ...(admin ? { admin: connectTarget(admin) } : {}),
    listen: listen ? connectTarget(listen) : DEFAULT_LISTEN,
    timeoutMs: timeout,
  };
}

/** GET /readyz: resolves to a description of a 2xx reply, rejects on anything else. */
export function checkReadyz(t: Target, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ host: t.host, port: t.port, path: '/readyz', timeout: timeoutMs, headers: { connection: 'close' } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body = (body + c).slice(0, 200)));
      res.on('end', () => {
        const line = `GET /readyz on ${t.host}:${t.port}: ${res.statusCode} ${body.trim().split('\n')[0] ?? ''}`.trim();
        if (res.statusCode !== undefined && res.statusCode >= 200 && res.statusCode < 300) resolve(line);
        else reject(new Error(line));
      });
    });
    req.on('timeout', () => req.destroy(new Error(`GET /readyz on ${t.host}:${t.port}: no reply in ${timeoutMs} ms`)));
    req.on('error', (err) => reject(new Error(`GET /readyz on ${t.host}:${t.port}: ${err.message}`)));
    req.end();
  });
}

/** `version` over the memcache port: resolves to the VERSION line, rejects on anything else. */
export function checkVersion(t: Target, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const where = `version on ${t.host}:${t.port}`;
    const socket = connect({ host: t.host, port: t.port });
    let buf = '';
    const done = (err: Error | null, line?: string) => {
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve(line!);
    };
    const timer = setTimeout(() => done(new Error(`${where}: no reply in ${timeoutMs} ms`)), timeoutMs);
    socket.on('connect', () => socket.write('version\r\n'));
    socket.on('data', (chunk: Buffer) => {
      buf += chunk.toString('latin1');
      const eol = buf.indexOf('\r\n');
      if (eol >= 0) {
        const line = buf.slice(0, eol);
        done(line.startsWith('VERSION ') ? null : new Error(`${where}: unexpected reply "${line.slice(0, 80)}"`), `${where}: ${line}`);
      } else if (buf.length > 1024) done(new Error(`${where}: no line ending in the reply`));
    });
    socket.on('error', (err) => done(new Error(`${where}: ${err.message}`)));
    socket.on('close', () => done(new Error(`${where}: connection closed before a reply`)));
  });
}

export function check(s: HealthSettings): Promise<string> {
  return s.admin ? checkReadyz(s.admin, s.timeoutMs) : checkVersion(s.listen, s.timeoutMs);
}

async function main(): Promise<void> {
  try {
    const line = await check(resolveSettings(process.argv.slice(2), process.env, serverArgs()));
    process.stdout.write(`healthy: ${line}\n`);
    process.exit(0);
  } catch (err) {
    process.stdout.write(`unhealthy: ${(err as Error).message}\n`);
    process.exit(1);
  }
}

// Run as a program (node dist/src/healthcheck.js), not when a test imports it.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) void main();
