// The Docker side of deployment without a Docker daemon (deploy/docker/smoke.sh proves the image
// against real containers in .ci/run): one Node version everywhere, a pinned and non-root
// Dockerfile, the compose file's wiring, and the health check script (dist/src/healthcheck.js)
// against a real server over loopback TCP.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { connectTarget, resolveSettings, serverArgs } from '../src/healthcheck.js';
import { startServer, type ServerHandle } from './helpers/server.js';

const ROOT = resolve(import.meta.dirname, '..');
const read = (file: string) => readFileSync(join(ROOT, file), 'utf8');
const HEALTHCHECK = join(ROOT, 'dist/src/healthcheck.js');

describe('one Node.js version everywhere', () => {
  const version = read('deploy/docker/node-version').trim();
  it('is an exact LTS version', () => {
    expect(version).toMatch(/^(22|24)\.\d+\.\d+$/);
  });
  it('the Dockerfile, package.json engines and CI use it', () => {
    const froms = read('Dockerfile')
      .split('\n')
      .filter((l) => l.startsWith('FROM '));
    expect(froms).toEqual([`FROM node:${version}-bookworm-slim AS build`, `FROM node:${version}-bookworm-slim`]);
    const engines = (JSON.parse(read('package.json')) as { engines: { node: string } }).engines.node;
    expect(engines).toBe(`>=${version.split('.')[0]}`);
    expect(read('.ci/run')).toContain('deploy/docker/node-version');
    expect(read('deploy/docker/build-base.sh')).toContain('deploy/docker/node-version');
  });
});

describe('Dockerfile', () => {
  const lines = read('Dockerfile')
    .replace(/\\\n/g, ' ')
    .split('\n')
    .filter((l) => l.trim() && !l.startsWith('#'));
  const instr = (name: string) => lines.filter((l) => l.startsWith(`${name} `));

  it('builds FROM an exact tag (Debian release and Node version), never a floating one', () => {
    for (const l of instr('FROM')) expect(l.split(/\s+/)[1]).toMatch(/^node:\d+\.\d+\.\d+-bookworm-slim(@sha256:[0-9a-f]{64})?$/);
  });
  it('pins every apt package to a version', () => {
    const installs = lines.filter((l) => l.includes('apt-get install'));
    expect(installs.length).toBeGreaterThan(0);
    for (const l of installs) {
      const pkgs = l
        .split('apt-get install')[1]!
        .split('&&')[0]!
        .trim()
        .split(/\s+/)
        .filter((w) => !w.startsWith('-'));
      expect(pkgs.length).toBeGreaterThan(0);
      for (const p of pkgs) expect(p, l).toMatch(/^[a-z0-9+.-]+=[\w.:+~-]+$/);
    }
  });
  it('runs as a non-root user, data on a volume, listens on every interface explicitly', () => {
    expect(instr('USER')).toEqual(['USER node']);
    expect(instr('VOLUME')).toEqual(['VOLUME ["/data"]']);
    expect(instr('CMD').at(-1)).toContain('"-listen", "0.0.0.0:22133"');
    expect(instr('CMD').at(-1)).toContain('"-admin", "0.0.0.0:9090"');
    // exec form, and bin/siberite ends in `exec node` (test/launcher.test.ts): PID 1 gets SIGTERM
    expect(instr('ENTRYPOINT')).toEqual(['ENTRYPOINT ["/app/bin/siberite"]']);
  });
  it('has a health check with a start period, through the healthcheck script', () => {
    const hc = instr('HEALTHCHECK');
    expect(hc).toHaveLength(1);
    expect(hc[0]).toMatch(/--start-period=\d+s/);
    expect(hc[0]).toContain('CMD ["node", "dist/src/healthcheck.js"]');
  });
  it('fails the build with a message when the addon does not compile', () => {
    expect(read('Dockerfile')).toMatch(/HEAP_TRIM=required[\s\S]*error: the addon src\/native did not compile/);
  });
  it('takes the proxy CA and .npmrc as build secrets, never copies them', () => {
    const dockerfile = read('Dockerfile');
    expect(dockerfile).toContain('--mount=type=secret,id=ca');
    expect(instr('COPY').join('\n')).not.toMatch(/npmrc|\.crt|\.pem/);
  });
  it('.dockerignore lets only the build inputs in', () => {
    const ignore = read('.dockerignore')
      .split('\n')
      .filter((l) => l && !l.startsWith('#'));
    expect(ignore[0]).toBe('*');
    expect(ignore).toContain('src/native/build');
    expect(ignore).toContain('!bin/siberite');
  });
});

describe('docker-compose.yml', () => {
  interface ComposeService {
    image: string;
    command?: string[];
    volumes?: string[];
    ports?: string[];
    network_mode?: string;
    depends_on?: Record<string, { condition: string }>;
  }
  const compose = parse(read('docker-compose.yml')) as { services: Record<string, ComposeService>; volumes: Record<string, unknown> };
  const { siberite, prometheus } = compose.services;

  it('the server: admin port on loopback, named volume on /data, memcache on every interface', () => {
    const args = siberite!.command!;
    expect(args[args.indexOf('-listen') + 1]).toBe('0.0.0.0:22133');
    expect(args[args.indexOf('-admin') + 1]).toBe('127.0.0.1:9090');
    expect(siberite!.volumes).toContain('siberite-data:/data');
    expect(compose.volumes).toHaveProperty('siberite-data');
  });
  it("Prometheus: a pinned image in the server's network namespace, scraping the admin port on loopback once the server is healthy", () => {
    expect(prometheus!.image).toMatch(/^prom\/prometheus:v\d+\.\d+\.\d+$/);
    expect(prometheus!.network_mode).toBe('service:siberite');
    expect(prometheus!.ports).toBeUndefined(); // published by the server's service
    expect(siberite!.ports).toContain('127.0.0.1:9091:9091');
    expect(prometheus!.depends_on!.siberite!.condition).toBe('service_healthy');
    const config = parse(read('deploy/docker/prometheus.yml')) as { scrape_configs: { static_configs: { targets: string[] }[] }[] };
    expect(config.scrape_configs[0]!.static_configs[0]!.targets).toEqual(['127.0.0.1:9090']);
    expect(prometheus!.volumes).toContain('./deploy/docker/prometheus.yml:/etc/prometheus/prometheus.yml:ro');
  });
});

describe('healthcheck settings', () => {
  it('connects to loopback for a wildcard bind address', () => {
    expect(connectTarget('0.0.0.0:22133')).toEqual({ host: '127.0.0.1', port: 22133 });
    expect(connectTarget('[::]:9090')).toEqual({ host: '127.0.0.1', port: 9090 });
    expect(connectTarget(':5')).toEqual({ host: '127.0.0.1', port: 5 });
    expect(connectTarget('7000')).toEqual({ host: '127.0.0.1', port: 7000 });
    expect(connectTarget('[::1]:7000')).toEqual({ host: '::1', port: 7000 });
    expect(() => connectTarget('host:99999')).toThrow(/bad address "host:99999"/);
    expect(() => connectTarget('nonsense')).toThrow(/want host:port/);
  });

  it('flags, then the environment, then the server command line, then the defaults', () => {
    const pid1 = ['node', 'dist/src/cli.js', '-listen', '0.0.0.0:4000', '--admin=0.0.0.0:4001'];
    expect(resolveSettings([], {}, [])).toEqual({ listen: { host: '127.0.0.1', port: 22133 }, timeoutMs: 2000 });
    expect(resolveSettings([], {}, pid1)).toMatchObject({ listen: { port: 4000 }, admin: { port: 4001 } });
    expect(resolveSettings([], { SIBERITE_HEALTH_ADMIN: '127.0.0.2:5001' }, pid1).admin).toEqual({ host: '127.0.0.2', port: 5001 });
    expect(resolveSettings(['--admin', ':6001'], { SIBERITE_HEALTH_ADMIN: ':5001' }, pid1).admin!.port).toBe(6001);
    expect(() => resolveSettings(['--timeout', '0'], {}, [])).toThrow(/--timeout/);
  });

  it("reads the server's command line from a NUL-separated cmdline, and ignores other programs", () => {
    const dir = mkdtempSync(join(tmpdir(), 'siberite-hc-'));
    try {
      writeFileSync(join(dir, 'server'), ['node', '--max-semi-space-size=2', 'dist/src/cli.js', '-listen', ':1'].join('\0') + '\0');
      writeFileSync(join(dir, 'other'), ['/bin/sh', '-c', 'sleep 1'].join('\0'));
      expect(serverArgs(join(dir, 'server'))).toContain('-listen');
      expect(serverArgs(join(dir, 'other'))).toEqual([]);
      expect(serverArgs(join(dir, 'missing'))).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** Runs dist/src/healthcheck.js; resolves to its exit code and output. */
function runCheck(args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((res) => {
    execFile(process.execPath, [HEALTHCHECK, ...args], { timeout: 15_000 }, (err, stdout) => {
      res({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, out: stdout });
    });
  });
}

describe('healthcheck against real servers', () => {
  let server: ServerHandle;
  let admin: Server;
  let adminPort = 0;
  let ready = true;

  beforeAll(async () => {
    server = await startServer();
    // A stand-in admin endpoint (a real HTTP server on loopback): /readyz answers 200 or 503.
    admin = createServer((req, res) => {
      res.statusCode = req.url === '/readyz' && ready ? 200 : 503;
      res.end(ready ? 'ready\n' : 'not ready: store is read-only\n');
    });
    await new Promise<void>((r) => admin.listen(0, '127.0.0.1', r));
    adminPort = (admin.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await server?.stop();
    server?.cleanup();
    await new Promise((r) => admin?.close(r));
  });

  it('healthy: `version` over the memcache port when there is no admin port', async () => {
    const r = await runCheck(['--listen', `127.0.0.1:${server.port}`]);
    expect(r).toEqual({ code: 0, out: `healthy: version on 127.0.0.1:${server.port}: VERSION 1.0.0\n` });
  });

  it('healthy / unhealthy from GET /readyz when there is an admin port', async () => {
    ready = true;
    const ok = await runCheck(['--admin', `127.0.0.1:${adminPort}`]);
    expect(ok.code).toBe(0);
    expect(ok.out).toMatch(/^healthy: GET \/readyz on 127\.0\.0\.1:\d+: 200 ready/);
    ready = false;
    const bad = await runCheck(['--admin', `127.0.0.1:${adminPort}`]);
    expect(bad.code).toBe(1);
    expect(bad.out).toMatch(/^unhealthy: GET \/readyz .*: 503 not ready/);
  });

  it('unhealthy with a reason when nothing listens, or something else answers', async () => {
    const closed = await runCheck(['--listen', `127.0.0.1:${adminPort}`, '--timeout', '3000']);
    expect(closed.code).toBe(1); // an HTTP server does not answer `version`
    expect(closed.out).toMatch(/^unhealthy: version on 127\.0\.0\.1:\d+: /);
    const stopped = await startServer();
    const port = stopped.port;
    await stopped.stop();
    stopped.cleanup();
    const refused = await runCheck(['--listen', `127.0.0.1:${port}`]);
    expect(refused).toEqual({ code: 1, out: `unhealthy: version on 127.0.0.1:${port}: connect ECONNREFUSED 127.0.0.1:${port}\n` });
  });
});
