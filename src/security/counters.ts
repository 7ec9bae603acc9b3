// Security counters, listed by `stats` among the server-wide lines (memcached names where it
// has them: auth_cmds, auth_errors).
export const securityCounters = {
  /** Authentication attempts (text `set` auth, SASL AUTH), successful or not. */
  authCmds: 0,
  /** Failed authentication attempts. */
  authErrors: 0,
  /** Connections closed because they did not authenticate in time. */
  authTimeouts: 0,
  /** Commands refused: before authentication, or outside the user's access. */
  cmdDenied: 0,
  /** TLS handshakes that failed (bad or missing client certificate, protocol mismatch …). */
  tlsHandshakeErrors: 0,
};

export function securityStats(): Array<[string, string]> {
  const c = securityCounters;
  return [
    ['auth_cmds', String(c.authCmds)],
    ['auth_errors', String(c.authErrors)],
    ['auth_timeouts', String(c.authTimeouts)],
    ['cmd_denied', String(c.cmdDenied)],
    ['tls_handshake_errors', String(c.tlsHandshakeErrors)],
  ];
}
