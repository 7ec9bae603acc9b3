// The auth file (-auth-file): who may connect, with which password, to which queues.
//
//   # comment
//   user:password                  every queue, read and write
//   user:password:PATTERNS         only queues matching one of the comma-separated globs
//   user:password:PATTERNS:ro      the same, read-only (peek queues, read cursors)
//
// Passwords are compared in constant time (SHA-256 digests of equal length, timingSafeEqual),
// and an unknown user costs the same comparison as a known one, so timing tells nothing.
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { AccessPolicy } from './policy.js';

export interface User {
  readonly name: string;
  readonly policy: AccessPolicy;
  /** SHA-256 of the password: a fixed length for the constant-time comparison. */
  readonly digest: Buffer;
}

/** A user name: printable ASCII without ':' (the field separator) or spaces (text auth splits on them). */
const USER_NAME = /^[\x21-\x39\x3b-\x7e]{1,64}$/;
const MAX_PASSWORD_BYTES = 256;
const MAX_FILE_BYTES = 1024 * 1024;

function digestOf(password: string | Buffer): Buffer {
  return createHash('sha256').update(password).digest();
}

/** Compared against when the user does not exist, so that case takes as long as a wrong password. */
const NO_USER_DIGEST = digestOf('\0no such user\0');

export class UserTable {
  private constructor(private readonly users: ReadonlyMap<string, User>) {}

  get size(): number {
    return this.users.size;
  }

  get(name: string): User | undefined {
    return this.users.get(name);
  }

  /** The user when `password` is theirs; null otherwise (unknown user or wrong password). */
  verify(name: string, password: string | Buffer): User | null {
    const user = this.users.get(name);
    const given = digestOf(password);
    const same = timingSafeEqual(given, user ? user.digest : NO_USER_DIGEST);
    return user && same ? user : null;
  }

  /** Reads and checks the file; throws an Error saying what is wrong (and where) otherwise. */
  static load(path: string): UserTable {
    checkPermissions(path);
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      throw new Error(`auth file ${path}: ${(err as Error).message}`);
    }
    return UserTable.parse(text, `auth file ${path}`);
  }

  /** Parses the file's text; `where` prefixes error messages. */
  static parse(text: string, where = 'auth file'): UserTable {
    if (Buffer.byteLength(text) > MAX_FILE_BYTES) throw new Error(`${where}: larger than 1 MiB`);
    const users = new Map<string, User>();
    const lines = text.split('\n');
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!.replace(/\r$/, '');
      if (line.trim() === '' || line.trimStart().startsWith('#')) continue;
      const user = parseLine(line, `${where} line ${i + 1}`);
      if (users.has(user.name)) throw new Error(`${where} line ${i + 1}: user "${user.name}" is listed twice`);
      users.set(user.name, user);
    }
    if (users.size === 0) throw new Error(`${where}: no users (every connection would be refused)`);
    return new UserTable(users);
  }
}

function parseLine(line: string, where: string): User {
  const fields = line.split(':');
  if (fields.length < 2 || fields.length > 4) {
    throw new Error(`${where}: want user:password, user:password:PATTERNS or user:password:PATTERNS:ro`);
  }
  const [name, password, patterns, mode] = fields as [string, string, string | undefined, string | undefined];
  if (!USER_NAME.test(name)) throw new Error(`${where}: bad user name (1-64 printable ASCII characters, no ':' or space)`);
  if (password.length === 0) throw new Error(`${where}: empty password for user "${name}"`);
  if (Buffer.byteLength(password) > MAX_PASSWORD_BYTES) throw new Error(`${where}: password longer than ${MAX_PASSWORD_BYTES} bytes`);
  if (mode !== undefined && mode !== 'ro' && mode !== 'rw')
    throw new Error(`${where}: the fourth field must be "ro" or "rw" (got "${mode}")`);
  let policy: AccessPolicy;
  try {
    policy = AccessPolicy.parse(patterns === undefined || patterns === '' ? '*' : patterns, mode === 'ro');
  } catch (err) {
    throw new Error(`${where}: ${(err as Error).message}`);
  }
  return { name, policy, digest: digestOf(password) };
}

/**
 * Refuses a file that others can read or write, as ssh refuses a private key: a password file
 * anyone on the host can read protects nothing.
 */
export function checkPermissions(path: string, what = 'auth file'): void {
  let mode: number;
  try {
    mode = statSync(path).mode;
  } catch (err) {
    throw new Error(`${what} ${path}: ${(err as Error).message}`);
  }
  if ((mode & 0o077) !== 0) {
    const octal = (mode & 0o777).toString(8).padStart(4, '0');
    throw new Error(`${what} ${path} is accessible by group or others (mode ${octal}); run: chmod 600 ${path}`);
  }
}
