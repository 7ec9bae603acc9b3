// The server's version, read once from package.json so there is one place to change it.
import { existsSync, readFileSync } from 'node:fs';

// Built, this runs from dist/src/; in-process tests run it from src/.
const PACKAGE_PATHS = ['../../package.json', '../package.json'].map((p) => new URL(p, import.meta.url));
const pkg = JSON.parse(readFileSync(PACKAGE_PATHS.find((p) => existsSync(p)) ?? PACKAGE_PATHS[0]!, 'utf8')) as { version: string };

export const VERSION: string = pkg.version;
