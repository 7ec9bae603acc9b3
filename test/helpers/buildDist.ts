// vitest globalSetup: compiles src/ into dist/ once, before any test file runs. Tests that spawn
// the server run dist/src/cli.js; without this step an edited source ran as its stale build.
// Incremental: a run with no source change only checks the build info (about half the work).
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import type { TestProject } from 'vitest/node';

const ROOT = resolve(import.meta.dirname, '../..');

/** The repository's own TypeScript compiler (its bin, run by this node). */
function tscPath(): string {
  const packageJson = createRequire(import.meta.url).resolve('typescript/package.json');
  return join(dirname(packageJson), 'bin', 'tsc');
}

/** Runs `tsc -p tsconfig.json --incremental`; a type error stops the whole run with its output. */
export function buildDist(): void {
  const started = Date.now();
  const result = spawnSync(process.execPath, [tscPath(), '-p', 'tsconfig.json', '--incremental'], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 300_000,
  });
  const output = `${result.stdout ?? ''}${result.stderr ?? ''}`.trim();
  if (result.error) throw new Error(`building dist/ failed to run tsc: ${result.error.message}`);
  if (result.status !== 0) {
    throw new Error(`building dist/ failed (tsc exit ${result.status ?? result.signal}); no test ran:\n${output}`);
  }
  process.stderr.write(`dist/ built from src/ in ${Date.now() - started} ms\n`);
}

export default function setup(project: TestProject): void {
  buildDist();
  // Watch mode: a rerun after an edit must run the edit, not the build of the first run.
  project.onTestsRerun(() => buildDist());
}
