// charts: turns bench/results/*.json into SVG charts under docs/benchmarks/ (no dependencies).
//
//   flood.svg            ops/s vs connections, one bar per server (flood-<label>.json)
//   <tool>.svg           the same for any other results file shaped like flood's
//                        (results[] of {connections, opsPerSec}[, protocol, window]),
//                        e.g. pipelined.svg from pipelined-<label>.json
//   packing.svg          mix ops/s vs backlog, fill and drain, per server (packing-<label>.json)
//   rss-<scenario>.svg   server RSS vs backlog while filling and draining (rss-<label>.json)
//   fsync.svg            ops/s with -fsync never vs always per connection count (fsync-*.json)
//   startup.svg          start-up time per run, and on an empty data directory (startup-*.json)
//   README.md            an index of the charts with the files they came from
//
// Files whose JSON cannot be read, or of tools it does not know, are listed and skipped.

import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve as resolvePath } from 'node:path';

import { Args, runMain } from './lib/cli.js';
import { RESULTS_DIR } from './lib/results.js';
import { barChart, color, lineChart, type BarSeries, type LineSeries } from './lib/svg.js';

const TOOL = 'charts';
const USAGE = `usage: node dist/bench/charts.js [options]

  --results <dir>    where the results JSON files are        [${RESULTS_DIR}]
  --out <dir>        where to write the SVG files             [docs/benchmarks]
  --only <regex>     use only results files whose name matches
  --help             this text`;

/* eslint-disable @typescript-eslint/no-explicit-any */
type Doc = Record<string, any> & { tool: string; label: string; file: string };

const SERVER_ORDER = ['siberite', 'memcached'];

function byServer(a: Doc, b: Doc): number {
  const ia = SERVER_ORDER.indexOf(a.label);
  const ib = SERVER_ORDER.indexOf(b.label);
  return (ia < 0 ? 99 : ia) - (ib < 0 ? 99 : ib) || a.label.localeCompare(b.label);
}

/** Fixed colours per server label, so siberite is the same colour in every chart. */
function serverColor(label: string, i: number): string {
  if (label === 'siberite') return '#1f77b4';
  if (label === 'memcached') return '#d62728';
  return color(i + 2);
}

function when(docs: Doc[]): string {
  const d = docs.map((x) => String(x.startedAt ?? '')).sort()[0];
  return d ? d.slice(0, 16).replace('T', ' ') + ' UTC' : '';
}

function isConnectionResults(d: Doc): boolean {
  return (
    Array.isArray(d.results) &&
    d.results.length > 0 &&
    d.results.every((r: any) => typeof r?.connections === 'number' && typeof r?.opsPerSec === 'number')
  );
}

/** Category of one result row: its connection count, and its protocol/window if it has them. */
function rowCategory(r: any): string {
  const parts: string[] = [];
  if (typeof r.protocol === 'string') parts.push(r.protocol);
  parts.push(`${r.connections} conn${r.connections === 1 ? '' : 's'}` + (typeof r.window === 'number' ? ` x ${r.window}` : ''));
  return parts.join(', ');
}

/** Targets from the design, per tool: a horizontal line on its chart. */
const TOOL_TARGETS: Record<string, { y: number; label: string }> = {
  pipelined: { y: 200_000, label: 'target: 200k ops/s (siberite)' },
};

function connectionChart(tool: string, docs: Doc[]): string {
  docs.sort(byServer);
  const plain = docs.every((d) => d.results.every((r: any) => r.protocol === undefined && r.window === undefined));
  const cats: string[] = [];
  const keyOf = (r: any): string => (plain ? String(r.connections) : rowCategory(r));
  const rows = docs.flatMap((d) => d.results as any[]);
  rows.sort((a, b) => a.connections - b.connections || String(a.protocol ?? '').localeCompare(String(b.protocol ?? '')));
  for (const r of rows) if (!cats.includes(keyOf(r))) cats.push(keyOf(r));
  const value = (d: Doc, c: string): number | null => d.results.find((r: any) => keyOf(r) === c)?.opsPerSec ?? null;
  const series: BarSeries[] = docs.map((d, i) => ({ name: d.label, color: serverColor(d.label, i), values: cats.map((c) => value(d, c)) }));
  const o = docs[0]!.options ?? {};
  let subtitle = `${o.queues ?? '?'} queues, ${o.valueSize ?? '?'} B values, ${o.seconds ?? '?'} s per run; ${when(docs)}`;
  const sib = docs.find((d) => d.label === 'siberite');
  const mc = docs.find((d) => d.label === 'memcached');
  if (sib && mc) {
    const pcts = cats
      .map((c) => {
        const a = value(sib, c);
        const b = value(mc, c);
        return a && b ? `${c}: ${Math.round((100 * a) / b)} %` : null;
      })
      .filter((x) => x !== null);
    subtitle += ` — siberite / memcached at ${pcts.join(', ')}`;
  }
  const target = TOOL_TARGETS[tool];
  return barChart({
    title: `${tool}: throughput${plain ? ' vs connections' : ''}`,
    subtitle,
    xLabel: plain ? 'connections' : 'run',
    yLabel: 'ops/s',
    categories: cats,
    series,
    valueLabels: true,
    ...(target ? { refLines: [target] } : {}),
  });
}

function packingChart(docs: Doc[]): string {
  docs.sort(byServer);
  const series: LineSeries[] = [];
  let ref: { y: number; label: string } | null = null;
  docs.forEach((d, i) => {
    const rows: any[] = d.checkpoints ?? [];
    const col = serverColor(d.label, i);
    const tag = d.mode === 'keys' ? ' (keys)' : '';
    for (const phase of ['fill', 'drain']) {
      const pts = rows.filter((r) => r.phase === phase).map((r) => [r.backlog, r.opsPerSec] as [number, number]);
      if (phase === 'drain') {
        // the drain starts where the fill ended
        const top = rows.filter((r) => r.phase === 'fill').at(-1);
        if (top) pts.unshift([top.backlog, top.opsPerSec]);
      }
      if (pts.length > 0)
        series.push({ name: `${d.label}${tag} ${phase}`, color: col, points: pts, ...(phase === 'drain' ? { dash: '6 4' } : {}) });
    }
    const empty = d.summary?.emptyOpsPerSec;
    if (ref === null && d.mode === 'queue' && typeof empty === 'number')
      ref = { y: 0.9 * empty, label: `target: 90 % of ${d.label} at empty` };
  });
  const o = docs[0]!.options ?? {};
  const ratios = docs
    .filter((d) => typeof d.summary?.topVsEmptyPct === 'number')
    .map((d) => `${d.label} ${d.summary.topVsEmptyPct} %`)
    .join(', ');
  return lineChart({
    title: 'packing: throughput vs backlog',
    subtitle: `${o.valueSize ?? '?'} B items, ${o.connections ?? '?'} connections set/get alternating; at the largest backlog vs empty: ${ratios}; ${when(docs)}`,
    xLabel: 'backlog (items queued)',
    yLabel: 'ops/s',
    series,
    ...(ref ? { refLines: [ref] } : {}),
  });
}

function rssCharts(docs: Doc[]): Map<string, { svg: string; sources: string[] }> {
  docs.sort(byServer);
  const byScenario = new Map<string, Array<{ doc: Doc; sc: any }>>();
  for (const d of docs) {
    for (const sc of d.scenarios ?? []) {
      const list = byScenario.get(sc.name) ?? [];
      list.push({ doc: d, sc });
      byScenario.set(sc.name, list);
    }
  }
  const out = new Map<string, { svg: string; sources: string[] }>();
  for (const [name, all] of byScenario) {
    // one series set per server: the newest run of a scenario wins
    const newest = new Map<string, { doc: Doc; sc: any }>();
    for (const x of all) {
      const prev = newest.get(x.doc.label);
      if (!prev || String(x.doc.startedAt) > String(prev.doc.startedAt)) newest.set(x.doc.label, x);
    }
    const list = [...newest.values()];
    const series: LineSeries[] = [];
    list.forEach(({ doc, sc }, i) => {
      const col = (phase: string): string => (list.length === 1 ? (phase === 'fill' ? '#1f77b4' : '#ff7f0e') : serverColor(doc.label, i));
      const samples: any[] = sc.samples ?? [];
      const start = samples.find((s) => s.phase === 'start');
      for (const phase of ['fill', 'drain']) {
        const pts = samples.filter((s) => s.phase === phase && s.rssMB !== null).map((s) => [s.backlog, s.rssMB] as [number, number]);
        if (phase === 'fill' && start) pts.unshift([0, start.rssMB]);
        if (phase === 'drain') {
          const top = samples.filter((s) => s.phase === 'fill').at(-1);
          if (top) pts.unshift([top.backlog, top.rssMB]);
        }
        if (pts.length > 0)
          series.push({
            name: `${list.length > 1 ? doc.label + ' ' : ''}${phase}`,
            color: col(phase),
            points: pts,
            ...(phase === 'drain' ? { dash: '6 4' } : {}),
          });
      }
      const settled = samples.find((s) => s.phase === 'settled');
      if (settled)
        series.push({
          name: `${list.length > 1 ? doc.label + ' ' : ''}after ${doc.options?.settleSeconds ?? '?'} s idle`,
          color: '#2ca02c',
          points: [[0, settled.rssMB]],
        });
    });
    const target = list[0]!.sc.summary?.targetMB ?? 100;
    out.set(`rss-${name}.svg`, {
      sources: list.map((x) => x.doc.file),
      svg: lineChart({
        title: `rss: server resident memory, ${name}`,
        subtitle: `one queue filled with pipelined sets, then drained with pipelined gets; ${when(list.map((x) => x.doc))}`,
        xLabel: 'backlog (items queued)',
        yLabel: 'RSS MB',
        series,
        refLines: [{ y: target, label: `target < ${target} MB` }],
      }),
    });
  }
  return out;
}

function fsyncChart(docs: Doc[]): string {
  docs.sort(byServer);
  const conns = [
    ...new Set(docs.flatMap((d) => (d.modes ?? []).flatMap((m: any) => m.results.map((r: any) => r.connections as number)))),
  ].sort((a, b) => a - b);
  const series: BarSeries[] = [];
  for (const d of docs) {
    for (const m of d.modes ?? []) {
      series.push({
        name: `${docs.length > 1 ? d.label + ' ' : ''}fsync ${m.fsync}`,
        color: m.fsync === 'always' ? '#ff7f0e' : '#1f77b4',
        values: conns.map((c) => m.results.find((r: any) => r.connections === c)?.opsPerSec ?? null),
      });
    }
  }
  const ratios = docs.flatMap((d) => (d.ratios ?? []).map((r: any) => `${r.connections} conn: ${r.pct} %`)).join(', ');
  return barChart({
    title: 'fsync: -fsync never vs always',
    subtitle: `flood pattern; always / never at ${ratios} (target ≥ 20 % at 100); ${when(docs)}`,
    xLabel: 'connections',
    yLabel: 'ops/s',
    categories: conns.map(String),
    series,
    valueLabels: true,
  });
}

function startupChart(docs: Doc[]): string {
  docs.sort(byServer);
  const maxRuns = Math.max(0, ...docs.map((d) => (d.runs ?? []).length));
  const categories = ['empty data dir', ...Array.from({ length: maxRuns }, (_, i) => `run ${i + 1}`)];
  const series: BarSeries[] = docs.map((d, i) => ({
    name: `${d.label} (${(d.summary?.items ?? 0).toLocaleString('en-US')} items)`,
    color: serverColor(d.label, i),
    values: [d.baseline?.readyMs ?? null, ...Array.from({ length: maxRuns }, (_, k) => d.runs?.[k]?.readyMs ?? null)],
  }));
  const target = docs[0]?.summary?.targetMs ?? 2000;
  return barChart({
    title: 'startup: spawn to first version reply',
    subtitle: `${docs.map((d) => `${d.label}: median ${d.summary?.readyMedianMs ?? '?'} ms`).join(', ')}; ${when(docs)}`,
    xLabel: 'start-up',
    yLabel: 'milliseconds',
    categories,
    series,
    refLines: [{ y: target, label: `target < ${target} ms` }],
    valueLabels: true,
  });
}

async function main(): Promise<number> {
  const a = new Args(process.argv.slice(2), ['results', 'out', 'only']);
  if (a.help) {
    process.stdout.write(USAGE + '\n');
    return 0;
  }
  const dir = resolvePath(a.str('results', RESULTS_DIR));
  const outDir = resolvePath(a.str('out', 'docs/benchmarks'));
  const only = a.optStr('only');
  const filter = only === null ? null : new RegExp(only);

  let names: string[];
  try {
    // Single rounds (flood-<label>-r<n>.json) are summed up by flood-medians into flood-<label>.json.
    const isRound = (n: string) => /-r\d+\.json$/.test(n);
    names = readdirSync(dir)
      .filter((n) => n.endsWith('.json') && !isRound(n) && (filter === null || filter.test(n)))
      .sort();
  } catch (err) {
    process.stderr.write(`${TOOL}: cannot read ${dir}: ${(err as Error).message}\n`);
    return 1;
  }
  const docs: Doc[] = [];
  for (const n of names) {
    try {
      const d = JSON.parse(readFileSync(join(dir, n), 'utf8'));
      if (typeof d?.tool !== 'string' || typeof d?.label !== 'string') throw new Error('no tool/label');
      docs.push({ ...d, file: n });
    } catch (err) {
      process.stderr.write(`${TOOL}: skipping ${n}: ${(err as Error).message}\n`);
    }
  }
  // Per tool, one results file per label (the newest), except rss whose files hold scenarios.
  const byTool = new Map<string, Doc[]>();
  for (const d of docs) {
    const list = byTool.get(d.tool) ?? [];
    const same = d.tool === 'rss' ? -1 : list.findIndex((x) => x.label === d.label);
    if (same < 0) list.push(d);
    else if (String(d.startedAt) > String(list[same]!.startedAt)) {
      process.stderr.write(`${TOOL}: ${list[same]!.file} is older than ${d.file} (same tool and label); using ${d.file}\n`);
      list[same] = d;
    } else process.stderr.write(`${TOOL}: ${d.file} is older than ${list[same]!.file} (same tool and label); using ${list[same]!.file}\n`);
    byTool.set(d.tool, list);
  }

  const charts: Array<{ file: string; svg: string; sources: string[] }> = [];
  for (const [tool, list] of byTool) {
    const sources = list.map((d) => d.file);
    if (tool === 'packing') charts.push({ file: 'packing.svg', svg: packingChart(list), sources });
    else if (tool === 'rss') for (const [file, c] of rssCharts(list)) charts.push({ file, ...c });
    else if (tool === 'fsync') charts.push({ file: 'fsync.svg', svg: fsyncChart(list), sources });
    else if (tool === 'startup') charts.push({ file: 'startup.svg', svg: startupChart(list), sources });
    else {
      const ok = list.filter(isConnectionResults);
      if (ok.length > 0) charts.push({ file: `${tool}.svg`, svg: connectionChart(tool, ok), sources: ok.map((d) => d.file) });
      for (const d of list) if (!ok.includes(d)) process.stderr.write(`${TOOL}: no chart for ${d.file} (tool "${tool}")\n`);
    }
  }
  if (charts.length === 0) {
    process.stderr.write(`${TOOL}: no results to chart in ${dir}\n`);
    return 1;
  }
  mkdirSync(outDir, { recursive: true });
  const order = ['flood', 'pipelined', 'packing', 'rss', 'fsync', 'startup'];
  const rank = (f: string): number => {
    const i = order.findIndex((t) => f.startsWith(t));
    return i < 0 ? order.length : i;
  };
  charts.sort((x, y) => rank(x.file) - rank(y.file) || x.file.localeCompare(y.file));
  const index = [
    '# Benchmark charts',
    '',
    'Generated by `node dist/bench/charts.js` from `bench/results/*.json` (see `bench/README.md`).',
    '',
  ];
  for (const c of charts) {
    writeFileSync(join(outDir, c.file), c.svg);
    process.stdout.write(`wrote ${join(outDir, c.file)}  (from ${c.sources.join(', ')})\n`);
    index.push(
      `## ${c.file.replace(/\.svg$/, '')}`,
      '',
      `![${c.file}](${c.file})`,
      '',
      `From ${c.sources.map((s) => `\`${s}\``).join(', ')}.`,
      '',
    );
  }
  writeFileSync(join(outDir, 'README.md'), index.join('\n'));
  process.stdout.write(`wrote ${join(outDir, 'README.md')}\n`);
  return 0;
}

runMain(TOOL, USAGE, main);
