// The admin HTTP port's bearer token (-admin-token-file), for the operations surface to wire in:
// every path but /healthz and /readyz needs `Authorization: Bearer <token>` whenever the admin
// address is not loopback. Pure functions; the HTTP server calls them.
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { checkPermissions } from './authFile.js';
import { isLoopback } from './security.js';

/** Paths a load balancer or kubelet probes without credentials. */
const OPEN_PATHS = new Set(['/healthz', '/readyz']);
const MIN_TOKEN_CHARS = 16;

/** Reads the token file (mode 600, like the auth file): its first line, trimmed. */
export function loadAdminToken(path: string): Buffer {
  checkPermissions(path, 'admin token file');
  const token = readFileSync(path, 'utf8').split('\n')[0]!.trim();
  if (token.length < MIN_TOKEN_CHARS) throw new Error(`admin token file ${path}: the token must be at least ${MIN_TOKEN_CHARS} characters`);
  return digest(token);
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}

/**
 * True when a request to `path` with this Authorization header may be served. On a loopback
 * admin address everything is served; elsewhere the probes are, and the rest needs the token
 * (`expected`, loadAdminToken's result; null: no token configured, so nothing else is served).
 */
export function adminRequestAllowed(path: string, authorization: string | undefined, expected: Buffer | null, adminHost: string): boolean {
  if (OPEN_PATHS.has(path) || isLoopback(adminHost)) return true;
  return bearerMatches(authorization, expected);
}

/** True when `authorization` carries the configured token (none configured: false). */
export function bearerMatches(authorization: string | undefined, expected: Buffer | null): boolean {
  if (expected === null) return false;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
  if (!m) return false;
  return timingSafeEqual(digest(m[1]!), expected);
}
