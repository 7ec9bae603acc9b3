// Results files: bench/results/<tool>-<label>.json, with the same envelope for every bench
// (tool, label, times, node version, options) so bench/charts.ts can read them all.

import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve as resolvePath } from 'node:path';

export const RESULTS_DIR = 'bench/results';

export function defaultResultsPath(tool: string, label: string): string {
  return `${RESULTS_DIR}/${tool}-${label}.json`;
}

export interface ResultsEnvelope {
  tool: string;
  label: string;
  /** The server under test, for the benches that are given one (listed after the label). */
  host?: string;
  port?: number;
  startedAt: Date;
  options: Record<string, unknown>;
  /** null when the run completed; else why it stopped. */
  failure: string | null;
}

/** Writes `{tool, label, [host, port,] startedAt, finishedAt, node, options, failure, ...body}` to `path`. */
export function writeResults(path: string, env: ResultsEnvelope, body: Record<string, unknown>): void {
  const file = resolvePath(path);
  mkdirSync(dirname(file), { recursive: true });
  const doc = {
    tool: env.tool,
    label: env.label,
    // JSON.stringify leaves out the undefined ones.
    host: env.host,
    port: env.port,
    startedAt: env.startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    node: process.version,
    options: env.options,
    failure: env.failure,
    ...body,
  };
  writeFileSync(file, JSON.stringify(doc, null, 2) + '\n');
}
