// The admin HTTP server (-admin host:port): read-only, in the queue server's process. It serves
// /metrics, /healthz, /readyz, /stats.json, the dashboard (/) and its JSON (/api/…). It starts
// before the store opens, so probes get answers during a long recovery; attach() hands it the
// live server once it is up.
import { adminRequestAllowed, bearerMatches } from '../security/adminToken.js';
import { handleExportRequest } from '../portability/exportHttp.js';
import { VERSION } from '../version.js';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';
import { type Logger } from 'pino';
import { overview, parsePageQuery, queuePage } from './api.js';
import { healthz, readyz } from './health.js';
import { Metrics } from './metrics.js';
import { DASHBOARD_CSS, DASHBOARD_HTML } from './page.js';
import { Sampler } from './sampler.js';
import { type AdminSource } from './source.js';
import { streamStatsJson } from './statsJson.js';

export interface AdminOptions {
  host: string;
  port: number;
  /** Per-queue metric series: the deepest N queues, the rest summed as queue="_other". */
  metricsMaxQueues: number;
  /** SHA-256 of the bearer token; off loopback, everything but the probes needs it. */
  token?: Buffer | null;
  log: Logger;
}

interface Asset {
  type: string;
  body: Buffer;
}

const require = createRequire(import.meta.url);
const HEADERS = {
  'x-content-type-options': 'nosniff',
  // Everything the page loads comes from this server (no CDN); uPlot sizes elements inline.
  'content-security-policy': "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:",
};

/** The page, its script (compiled next to this file) and uPlot from node_modules, read once. */
function loadAssets(): Map<string, Asset> {
  const js = 'text/javascript; charset=utf-8';
  const css = 'text/css; charset=utf-8';
  const uplot = path.dirname(require.resolve('uplot/dist/uPlot.iife.min.js'));
  return new Map<string, Asset>([
    ['/', { type: 'text/html; charset=utf-8', body: Buffer.from(DASHBOARD_HTML) }],
    ['/ui/style.css', { type: css, body: Buffer.from(DASHBOARD_CSS) }],
    ['/ui/app.js', { type: js, body: readFileSync(path.join(import.meta.dirname, 'ui', 'app.js')) }],
    ['/vendor/uPlot.iife.min.js', { type: js, body: readFileSync(path.join(uplot, 'uPlot.iife.min.js')) }],
    ['/vendor/uPlot.min.css', { type: css, body: readFileSync(path.join(uplot, 'uPlot.min.css')) }],
  ]);
}

/** A client error whose message is safe to show (it names no file or internal detail). */
class BadRequest extends Error {}

export class AdminServer {
  private source: AdminSource | null = null;
  private sampler: Sampler | null = null;
  private readonly metrics: Metrics;
  private readonly assets = loadAssets();

  /** Routes that answer before the store is open too: probes get answers during a long recovery. */
  private readonly probeRoutes = new Map<string, (exchange: Exchange) => void | Promise<void>>([
    ['/healthz', ({ res }) => sendProbe(res, healthz())],
    ['/readyz', async ({ res }) => sendProbe(res, await readyz(this.source))],
    [
      '/metrics',
      async ({ res, head }) => {
        const text = await this.metrics.render(this.source);
        res.writeHead(200, { 'content-type': this.metrics.contentType, ...HEADERS });
        res.end(head ? undefined : text);
      },
    ],
  ]);

  private constructor(
    private readonly http: http.Server,
    private readonly options: AdminOptions,
  ) {
    this.metrics = new Metrics(options.metricsMaxQueues);
  }

  static async start(options: AdminOptions): Promise<AdminServer> {
    const server = http.createServer();
    const admin = new AdminServer(server, options);
    server.on('request', (req, res) => admin.handle(req, res));
    // Slow or idle scrapers cannot pile up connections for long.
    server.requestTimeout = 30_000;
    server.keepAliveTimeout = 5_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port, options.host, () => {
        server.off('error', reject);
        server.on('error', (err) => options.log.error({ err }, 'admin server error'));
        resolve();
      });
    });
    return admin;
  }

  address(): { address: string; port: number } {
    return this.http.address() as { address: string; port: number };
  }

  /** The queue server is up (store open, recovery done): serve its values from now on. */
  attach(source: AdminSource): void {
    this.source = source;
    this.sampler = new Sampler(source);
  }

  async stop(): Promise<void> {
    this.sampler?.stop();
    const closed = new Promise<void>((resolve) => this.http.close(() => resolve()));
    this.http.closeAllConnections();
    await closed;
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    this.route(req, res).catch((err: unknown) => {
      const bad = err instanceof BadRequest;
      if (!bad) this.options.log.error({ err, url: req.url }, 'admin request failed');
      if (res.headersSent) {
        res.destroy();
        return;
      }
      sendJson(res, bad ? 400 : 500, { error: bad ? (err as Error).message : 'internal error (see the server log)' });
    });
  }

  private async route(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', ...HEADERS }).end();
      return;
    }
    const url = new URL(req.url ?? '/', 'http://admin');
    const exchange: Exchange = { req, res, url, head: req.method === 'HEAD', token: this.options.token ?? null };
    if (!adminRequestAllowed(url.pathname, req.headers.authorization, exchange.token, this.options.host)) {
      res.writeHead(401, { 'www-authenticate': 'Bearer realm="siberite"', ...HEADERS });
      res.end(exchange.head ? undefined : '{"error":"a bearer token is required (-admin-token-file) off loopback"}');
      return;
    }
    const asset = this.assets.get(url.pathname);
    if (asset) return sendAsset(exchange, asset);
    const probe = this.probeRoutes.get(url.pathname);
    if (probe) return probe(exchange);
    if (!this.source || !this.sampler) {
      sendJson(res, 503, { error: 'starting: the store is being opened and recovered' });
      return;
    }
    const serve = LIVE_ROUTES.get(url.pathname) ?? sendNotFound;
    return serve(exchange, this.source, this.sampler);
  }
}

/** One request being answered. */
interface Exchange {
  req: http.IncomingMessage;
  res: http.ServerResponse;
  url: URL;
  /** HEAD: the status and headers of a GET, without its body. */
  head: boolean;
  token: Buffer | null;
}

type LiveRoute = (exchange: Exchange, source: AdminSource, sampler: Sampler) => void | Promise<void>;

/** Routes that need the queue server (attached once the store is open and recovered). */
const LIVE_ROUTES = new Map<string, LiveRoute>([
  ['/export', serveExport],
  ['/stats.json', serveStatsJson],
  ['/api/overview', serveOverview],
  ['/api/queues', serveQueuePage],
]);

const ENDPOINTS = ['/', '/metrics', '/healthz', '/readyz', '/stats.json', '/api/overview', '/api/queues', '/export'];

async function serveExport({ req, res, head, token }: Exchange, source: AdminSource): Promise<void> {
  // Every payload leaves by this route: it always needs the token, even on loopback.
  if (!bearerMatches(req.headers.authorization, token)) {
    res.writeHead(401, { 'www-authenticate': 'Bearer realm="siberite"', ...HEADERS });
    res.end('{"error":"GET /export needs the bearer token of -admin-token-file"}');
    return;
  }
  if (head) {
    res.writeHead(200, { 'content-type': 'application/x-ndjson', ...HEADERS }).end();
    return;
  }
  return handleExportRequest(await source.exportDb(), req, res, { kind: 'server', server: `siberite ${VERSION}` });
}

async function serveStatsJson({ res, head }: Exchange, source: AdminSource): Promise<void> {
  res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', ...HEADERS });
  if (head) res.end();
  else await streamStatsJson(source, res);
}

async function serveOverview({ res, url }: Exchange, source: AdminSource, sampler: Sampler): Promise<void> {
  const since = Number(url.searchParams.get('since') ?? 0);
  if (!Number.isFinite(since)) throw new BadRequest('since must be a number (Unix ms)');
  sendJson(res, 200, await overview(source, sampler, since));
}

async function serveQueuePage({ res, url }: Exchange, source: AdminSource): Promise<void> {
  let query;
  try {
    query = parsePageQuery(url.searchParams);
  } catch (err) {
    throw new BadRequest((err as Error).message);
  }
  sendJson(res, 200, await queuePage(source, query));
}

function sendNotFound({ res }: Exchange): void {
  sendJson(res, 404, { error: 'not found', endpoints: ENDPOINTS });
}

function sendAsset({ res, head }: Exchange, asset: Asset): void {
  res.writeHead(200, { 'content-type': asset.type, 'cache-control': 'no-cache', ...HEADERS });
  res.end(head ? undefined : asset.body);
}

function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...HEADERS });
  res.end(JSON.stringify(body));
}

function sendProbe(res: http.ServerResponse, reply: { status: number; body: unknown }): void {
  sendJson(res, reply.status, reply.body);
}
