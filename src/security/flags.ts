// The security flags of the `siberite` command, and the start-up checks on them.
import { type Logger } from 'pino';
import { parseListen } from '../config.js';
import { parseDuration } from '../configFile.js';
import { DEFAULT_AUTH_TIMEOUT_MS, Security, isLoopback } from './security.js';

export const securityFlags = {
  'auth-file': { type: 'string', describe: 'users, passwords and queue patterns (mode 600); turns authentication on' },
  'auth-timeout': {
    type: 'string',
    default: `${DEFAULT_AUTH_TIMEOUT_MS / 1000}s`,
    describe: 'close connections not authenticated (or TLS-handshaken) within this time',
  },
  'tls-listen': { type: 'string', describe: 'TLS address (host:port), beside -listen' },
  'tls-cert': { type: 'string', describe: 'TLS certificate chain (PEM)' },
  'tls-key': { type: 'string', describe: 'TLS private key (PEM)' },
  'tls-ca': { type: 'string', describe: 'CA bundle (PEM): require client certificates signed by it' },
} as const;

export interface SecurityArgs {
  'auth-file'?: string;
  'auth-timeout': string;
  'tls-listen'?: string;
  'tls-cert'?: string;
  'tls-key'?: string;
  'tls-ca'?: string;
}

/** What the server gets: absent when no security flag is given (the server runs as before). */
export interface SecuritySetup {
  security?: Security;
  tlsListen?: { host: string; port: number };
}

/** Checks the flags together and loads the files; throws an Error with a one-line reason. */
export function loadSecurityFromFlags(args: SecurityArgs, log: Logger): SecuritySetup {
  const authTimeoutMs = parseDuration(args['auth-timeout'], '-auth-timeout', { max: 3_600_000 });
  const tlsListen = args['tls-listen'];
  const cert = args['tls-cert'];
  const key = args['tls-key'];
  const ca = args['tls-ca'];
  if (tlsListen === undefined && (cert || key || ca)) throw new Error('-tls-cert, -tls-key and -tls-ca need -tls-listen');
  if (tlsListen !== undefined && (!cert || !key)) throw new Error('-tls-listen needs -tls-cert and -tls-key');
  const authFile = args['auth-file'];
  if (authFile === undefined && tlsListen === undefined) return {};
  const security = Security.load({
    authTimeoutMs,
    log,
    ...(authFile !== undefined && { authFile }),
    ...(tlsListen !== undefined && { tls: { cert: cert!, key: key!, ...(ca && { ca }) } }),
  });
  return tlsListen === undefined ? { security } : { security, tlsListen: parseListen(tlsListen, '-tls-listen') };
}

/** Start-up warnings about what is reachable from other hosts without a password. */
export function exposureWarnings(listenHost: string, tlsHost: string | undefined, setup: SecuritySetup): string[] {
  if (setup.security?.authEnabled) return [];
  const out: string[] = [];
  if (!isLoopback(listenHost)) {
    out.push(
      `listening on ${listenHost} without -auth-file: anyone who can reach this address can read, write, flush and delete every queue`,
    );
  }
  if (tlsHost !== undefined && !isLoopback(tlsHost) && !setup.security?.hasClientCa) {
    out.push(`TLS listener on ${tlsHost} without -auth-file or -tls-ca: traffic is encrypted, but any client may connect`);
  }
  return out;
}
