// The admin HTTP surface in tests: a real server started with `-admin 127.0.0.1:0`, plain HTTP
// requests to it over loopback, and its /metrics parsed by the strict parser.
import http from 'node:http';
import { type PromFamily, parsePrometheusText } from './promParser.js';
import { type ServerHandle, type StartOptions, startServer } from './server.js';

export interface AdminHandle extends ServerHandle {
  adminPort: number;
}

/** Starts the server with its admin port on loopback (the port it picked is in its log). */
export async function startAdminServer(options: StartOptions = {}): Promise<AdminHandle> {
  const server = await startServer({ ...options, args: ['-admin', '127.0.0.1:0', ...(options.args ?? [])] });
  const m = /"admin":"127\.0\.0\.1:(\d+)"/.exec(server.output());
  if (!m) {
    await server.stop();
    server.cleanup();
    throw new Error(`no admin address in the server log:\n${server.output()}`);
  }
  return { ...server, adminPort: Number(m[1]) };
}

export interface HttpReply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** One request (a fresh connection, no keep-alive), with a bound on time. */
export function httpRequest(port: number, path: string, method = 'GET', timeoutMs = 10_000): Promise<HttpReply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method, agent: false, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no reply within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

/** GET `path`, expecting 200; the body. */
export async function httpGet(port: number, path: string): Promise<string> {
  const reply = await httpRequest(port, path);
  if (reply.status !== 200) throw new Error(`GET ${path}: ${reply.status} ${reply.body}`);
  return reply.body;
}

/** GET /metrics, parsed strictly (throws on any malformed line). */
export async function scrape(port: number): Promise<Map<string, PromFamily>> {
  return parsePrometheusText(await httpGet(port, '/metrics'), { ownPrefix: 'siberite_' });
}
