// The summaries printed when an import, restore or export ends: what moved, what was left out
// and why, and anything imported as it was that a user should know about.
import { type BackupCounts } from './backupFormat.js';
import { type ImportResult } from './importGo.js';
import { fmt } from './progress.js';
import { type RestoreResult } from './restore.js';

const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;

function section(title: string, lines: string[]): string[] {
  return lines.length ? [`${title}:`, ...lines.map((l) => `  ${l}`)] : [];
}

export function importSummary(r: ImportResult, from: string, to: string, ms: number): string {
  const items = r.queues.reduce((n, q) => n + q.items, 0);
  const bytes = r.queues.reduce((n, q) => n + q.bytes, 0);
  const cursors = r.queues.reduce((n, q) => n + q.cursors.length, 0);
  const width = Math.min(24, Math.max(5, ...r.queues.map((q) => q.name.length)));
  const queueLines = r.queues.map((q) => {
    const line = `${q.name.padEnd(width)}  ${fmt(q.items).padStart(10)} items  ${fmt(q.bytes).padStart(13)} bytes${q.merged ? '  (appended)' : ''}`;
    const cs = q.cursors.map(
      (c) =>
        `      cursor ${c.name}: Go position ${c.goPosition}, ${fmt(c.ahead)} items ahead${c.retries ? `, ${c.retries} failed reads served first` : ''}`,
    );
    return [line, ...cs].join('\n  ');
  });
  return [
    `siberite import: ${from} (Go Siberite 0.6) → ${to} in ${secs(ms)}`,
    `queues ${fmt(r.queues.length)}, items ${fmt(items)}, bytes ${fmt(bytes)} (${mb(bytes)}), cursors ${fmt(cursors)}, ` +
      `${fmt(Math.round(items / Math.max(ms / 1000, 0.001)))} items/s`,
    ...section('queues', queueLines),
    ...section('skipped', r.skipped.length ? r.skipped : []),
    ...(r.skipped.length ? [] : ['skipped: nothing']),
    ...section('notes', r.notes),
  ].join('\n');
}

export function restoreSummary(r: RestoreResult, to: string, ms: number): string {
  const c = r.counts;
  return [
    `siberite restore: backup of ${r.created} → ${to} in ${secs(ms)}`,
    `queues ${fmt(c.queues)}, items ${fmt(c.items)}, bytes ${fmt(c.bytes)} (${mb(c.bytes)}), cursors ${fmt(c.cursors)}, retry entries ${fmt(c.retries)}`,
    ...section(
      'queues',
      r.queues.map((q) => `${q.name}: ${fmt(q.items)} items, ${fmt(q.bytes)} bytes, ${q.cursors} cursors${q.merged ? ' (appended)' : ''}`),
    ),
    ...(r.skipped.length ? section('skipped', r.skipped) : ['skipped: nothing']),
    'checksums: every line and the trailer SHA-256 verified',
  ].join('\n');
}

export function exportSummary(c: BackupCounts, source: string, ms: number): string {
  return (
    `siberite export: ${source} in ${secs(ms)}: queues ${fmt(c.queues)}, items ${fmt(c.items)}, bytes ${fmt(c.bytes)} (${mb(c.bytes)}), ` +
    `cursors ${fmt(c.cursors)}, retry entries ${fmt(c.retries)}`
  );
}
