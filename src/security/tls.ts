// TLS for -tls-listen: certificate files in, Node's tls options out; re-read on reload.
import { readFileSync, statSync } from 'node:fs';
import tls from 'node:tls';

export interface TlsFiles {
  cert: string;
  key: string;
  /** CA bundle that client certificates must chain to; set: a client certificate is required. */
  ca?: string;
}

/** TLS 1.2 and 1.3 only; Node's default cipher list (forward secrecy, AEAD first). */
const MIN_VERSION = 'TLSv1.2';

function read(path: string, flag: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new Error(`${flag} ${path}: ${(err as Error).message}`);
  }
}

/**
 * Reads the files and checks they make a usable context (a key that matches its certificate,
 * PEM that parses), so a bad file is refused at start or reload with the flag that names it.
 */
export function loadTlsOptions(files: TlsFiles): tls.SecureContextOptions {
  const options: tls.SecureContextOptions = {
    cert: read(files.cert, '-tls-cert'),
    key: read(files.key, '-tls-key'),
    minVersion: MIN_VERSION,
  };
  if (files.ca) options.ca = read(files.ca, '-tls-ca');
  try {
    tls.createSecureContext(options);
  } catch (err) {
    const which = files.ca
      ? `-tls-cert ${files.cert}, -tls-key ${files.key}, -tls-ca ${files.ca}`
      : `-tls-cert ${files.cert}, -tls-key ${files.key}`;
    throw new Error(`TLS files unusable (${which}): ${(err as Error).message}`);
  }
  return options;
}

/** The options of the TLS listener itself (set once; the context is replaced on reload). */
export function tlsServerOptions(files: TlsFiles, handshakeTimeoutMs: number): tls.TlsOptions {
  return {
    ...loadTlsOptions(files),
    // With a CA: a client without a certificate signed by it is refused in the handshake.
    requestCert: files.ca !== undefined,
    rejectUnauthorized: files.ca !== undefined,
    handshakeTimeout: handshakeTimeoutMs,
  };
}

/** True when the private key is readable by group or others (warned about, as ssh would). */
export function keyIsExposed(path: string): boolean {
  try {
    return (statSync(path).mode & 0o077) !== 0;
  } catch {
    return false;
  }
}
