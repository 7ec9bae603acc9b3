// SASL PLAIN (RFC 4616), the one mechanism offered, as memcached does over the binary protocol:
// the client's first message is `[authzid] NUL authcid NUL password`.

export const MECHANISMS = 'PLAIN';

export interface PlainCredentials {
  user: string;
  password: Buffer;
}

/**
 * The user and password of a PLAIN message, or null when it is malformed or asks to act as
 * someone else (an authorization identity other than the user's own is not supported).
 */
export function parsePlain(message: Buffer): PlainCredentials | null {
  const first = message.indexOf(0);
  if (first < 0) return null;
  const second = message.indexOf(0, first + 1);
  if (second < 0 || message.indexOf(0, second + 1) >= 0) return null;
  const authzid = message.toString('utf8', 0, first);
  const user = message.toString('utf8', first + 1, second);
  if (user.length === 0 || (authzid !== '' && authzid !== user)) return null;
  return { user, password: message.subarray(second + 1) };
}
