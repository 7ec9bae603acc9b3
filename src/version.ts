// The server's version, read once from package.json so there is one place to change it.
import { existsSync, readFileSync } from 'node:fs';

// The repository's package.json: one level up from src/ (tests run the sources in-process), two
// from dist/src/ (the build).
const path = ['../package.json', '../../package.json'].map((p) => new URL(p, import.meta.url)).find((url) => existsSync(url));
const pkg = JSON.parse(readFileSync(path ?? new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

export const VERSION: string = pkg.version;
