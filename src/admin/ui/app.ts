// The dashboard in the browser: polls /api/overview (server values, store health, samples for the
// charts) and /api/queues (one filtered, sorted page of the queue table) every two seconds.
// Compiled by tsc with the server and served from dist/; uPlot is loaded before it as a global.
// Type-only imports of the server's JSON shapes: erased from the compiled script.
import type UPlot from 'uplot';
import type { QueueRow } from '../api.js';
import type { Sample } from '../sampler.js';
import type { GlobalSnapshot } from '../source.js';

declare const uPlot: typeof UPlot;

type Global = GlobalSnapshot;
type Row = QueueRow;

const POLL_MS = 2000;
const KEEP_MS = 10 * 60 * 1000;
const PAGE = 50;
const COLORS = ['#3b6fe0', '#1f9d63', '#d99a1e', '#d8453b', '#8a55d6', '#2aa5b8'];

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const samples: Sample[] = [];
const table = { sort: 'items', desc: true, offset: 0, filter: '', total: 0 };
/** The previous poll's counters of each row shown, for the in/out rates. */
let previous = new Map<string, { t: number; added: number; removed: number }>();

// ---- formatting ---------------------------------------------------------------------------

const count = (n: number) =>
  n >= 1e6 ? `${(n / 1e6).toFixed(n >= 1e7 ? 0 : 1)}M` : n >= 1e4 ? `${(n / 1e3).toFixed(0)}k` : n.toLocaleString('en-US');
function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n.toFixed(i === 0 || n >= 100 ? 0 : 1)} ${units[i]}`;
}
const rate = (n: number) => (n >= 100 ? count(Math.round(n)) : n.toFixed(n >= 10 ? 0 : 1));
function age(s: number | null): string {
  if (s === null) return '–';
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
  if (s < 3600) return `${Math.floor(s / 60)} m ${Math.floor(s % 60)} s`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} m`;
  return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
}

function badge(id: string, text: string, kind: 'ok' | 'bad' | 'warn' | '') {
  const el = $(id);
  el.textContent = text;
  el.className = `badge ${kind}`;
}

// ---- charts -------------------------------------------------------------------------------

interface Chart {
  el: HTMLElement;
  plot: UPlot | null;
  key: string;
}

const charts: Record<string, Chart> = {};
for (const id of ['rates', 'depth', 'conns', 'process']) charts[id] = { el: $(`chart-${id}`), plot: null, key: '' };

/** Clock time on the x axis, one line (uPlot's default adds a date line under it). */
const TIME_AXIS: UPlot.Axis = {
  values: (_u, vals) =>
    vals.map((v) => new Date(v * 1000).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' })),
};

function series(label: string, i: number, extra: Partial<UPlot.Series> = {}): UPlot.Series {
  return { label, stroke: COLORS[i % COLORS.length], width: 2, points: { show: false }, ...extra };
}

/** Draws `data` in chart `id`, creating the plot again when its series change. */
function draw(id: string, labels: string[], data: UPlot.AlignedData, options: Partial<UPlot.Options> = {}): void {
  const chart = charts[id]!;
  const key = labels.join('\u0000');
  const width = chart.el.clientWidth;
  if (!chart.plot || chart.key !== key) {
    chart.plot?.destroy();
    chart.el.textContent = '';
    chart.key = key;
    chart.plot = new uPlot(
      {
        width,
        height: 200,
        legend: { live: false },
        cursor: { drag: { x: false, y: false } },
        series: [{}, ...labels.map((label, i) => series(label, i, options.series?.[i + 1]))],
        axes: options.axes ?? [TIME_AXIS, { size: 60, values: (_u, vals) => vals.map((v) => count(v)) }],
        scales: options.scales ?? { x: { time: true } },
      },
      data,
      chart.el,
    );
  } else {
    if (chart.plot.width !== width) chart.plot.setSize({ width, height: 200 });
    chart.plot.setData(data);
  }
  chart.el.dataset['points'] = String(data[0].length);
}

function drawCharts(): void {
  const xs = samples.map((s) => s.t / 1000);
  // Sets are items in (but for fanout); the gets line shows reads that found nothing, too.
  draw(
    'rates',
    ['items in', 'items out', 'gets'],
    [xs, samples.map((s) => s.addedRate), samples.map((s) => s.removedRate), samples.map((s) => s.getRate)],
  );
  const latest = samples[samples.length - 1];
  const names = latest ? Object.keys(latest.top).filter((n) => latest.top[n]! > 0) : [];
  const depth: UPlot.AlignedData = [xs, ...names.map((n) => samples.map((s) => s.top[n] ?? null))];
  draw('depth', names.length ? names : ['(no items queued)'], names.length ? depth : [xs, samples.map(() => 0)]);
  draw('conns', ['connections'], [xs, samples.map((s) => s.connections)]);
  draw('process', ['RSS', 'loop lag p99'], [xs, samples.map((s) => s.rssBytes), samples.map((s) => s.loopLagMs)], {
    series: [{}, { scale: 'bytes' }, { scale: 'ms' }],
    scales: { x: { time: true }, bytes: {}, ms: {} },
    axes: [
      TIME_AXIS,
      { scale: 'bytes', size: 70, values: (_u, vals) => vals.map((v) => bytes(v)) },
      { scale: 'ms', side: 1, size: 60, grid: { show: false }, values: (_u, vals) => vals.map((v) => `${v} ms`) },
    ],
  });
}

// ---- polling ------------------------------------------------------------------------------

async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url, { cache: 'no-store' });
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  return (await res.json()) as T;
}

async function pollOverview(): Promise<void> {
  const since = samples.length ? samples[samples.length - 1]!.t : 0;
  const { global: g, samples: fresh } = await getJson<{ global: Global; samples: Sample[] }>(`/api/overview?since=${since}`);
  samples.push(...fresh);
  while (samples.length && samples[0]!.t < Date.now() - KEEP_MS) samples.shift();
  $('version').textContent = `v${g.version} · up ${age(g.uptimeSeconds)}`;
  badge('status', g.status, g.status === 'UP' ? 'ok' : 'warn');
  badge(
    'store',
    g.store.writable ? 'store writable' : `store FAILING CLOSED${g.store.fault ? ` (${g.store.fault})` : ''}`,
    g.store.writable ? 'ok' : 'bad',
  );
  const ready = g.store.ready && g.store.writable;
  badge('ready', ready ? 'ready' : g.store.ready ? 'not ready' : 'recovering', ready ? 'ok' : 'bad');
  const last = samples[samples.length - 1];
  $('c-items').textContent = last ? count(last.items) : '–';
  $('c-bytes').textContent = last ? bytes(last.bytes) : '–';
  $('c-sets').textContent = last ? rate(last.setRate) : '–';
  $('c-gets').textContent = last ? rate(last.getRate) : '–';
  $('c-conns').textContent = count(g.connections);
  $('c-queues').textContent = count(g.queueCount);
  $('c-wal').textContent = bytes(g.store.walBytes);
  const errors = Object.values(g.store.errors).reduce((a, b) => a + b, 0);
  $('c-errors').textContent = count(errors);
  $('c-errors').classList.toggle('bad', errors > 0);
  drawCharts();
}

function cell(tr: HTMLTableRowElement, text: string, className = 'num'): HTMLTableCellElement {
  const td = tr.insertCell();
  td.textContent = text;
  td.className = className;
  return td;
}

async function pollQueues(): Promise<void> {
  const q = new URLSearchParams({
    sort: table.sort,
    dir: table.desc ? 'desc' : 'asc',
    offset: String(table.offset),
    limit: String(PAGE),
    filter: table.filter,
  });
  const page = await getJson<{ total: number; rows: Row[] }>(`/api/queues?${q}`);
  table.total = page.total;
  const now = Date.now();
  const seen = new Map<string, { t: number; added: number; removed: number }>();
  const body = document.createElement('tbody');
  for (const row of page.rows) {
    const tr = body.insertRow();
    tr.dataset['queue'] = row.name;
    cell(tr, row.name, 'name').title = row.name;
    cell(tr, count(row.items)).dataset['items'] = String(row.items);
    cell(tr, bytes(row.bytes));
    cell(tr, age(row.items > 0 ? row.oldestItemAgeSeconds : null));
    const before = previous.get(row.name);
    const dt = before ? (now - before.t) / 1000 : 0;
    cell(tr, before && dt > 0 ? rate(Math.max(0, row.added - before.added) / dt) : '–');
    cell(tr, before && dt > 0 ? rate(Math.max(0, row.removed - before.removed) / dt) : '–');
    cell(tr, count(row.openTransactions));
    cell(tr, count(row.waiters));
    const cursors = cell(tr, '', 'cursors');
    for (const c of row.cursors) {
      const pill = document.createElement('span');
      pill.className = 'pill';
      pill.textContent = `${c.name}: ${count(c.lag)}`;
      cursors.append(pill);
    }
    seen.set(row.name, { t: now, added: row.added, removed: row.removed });
  }
  if (page.rows.length === 0) {
    const td = body.insertRow().insertCell();
    td.colSpan = 9;
    td.className = 'empty';
    td.textContent = table.filter ? 'No queue matches the filter.' : 'No queues yet.';
  }
  previous = seen;
  $('queues').querySelector('tbody')!.replaceWith(body);
  const first = page.total === 0 ? 0 : table.offset + 1;
  $('range').textContent = `${count(first)}–${count(table.offset + page.rows.length)} of ${count(page.total)}`;
  $<HTMLButtonElement>('prev').disabled = table.offset === 0;
  $<HTMLButtonElement>('next').disabled = table.offset + PAGE >= page.total;
}

async function poll(): Promise<void> {
  try {
    await Promise.all([pollOverview(), pollQueues()]);
    $('updated').textContent = `updated ${new Date().toLocaleTimeString()}`;
  } catch {
    badge('ready', 'server unreachable', 'bad');
  }
}

// ---- table controls -----------------------------------------------------------------------

function refreshTable(): void {
  previous = new Map();
  void pollQueues().catch(() => badge('ready', 'server unreachable', 'bad'));
}

function markSorted(): void {
  for (const th of document.querySelectorAll<HTMLElement>('th[data-sort]')) {
    th.classList.toggle('sorted', th.dataset['sort'] === table.sort);
    th.classList.toggle('asc', th.dataset['sort'] === table.sort && !table.desc);
  }
}

for (const th of document.querySelectorAll<HTMLElement>('th[data-sort]')) {
  th.addEventListener('click', () => {
    const sort = th.dataset['sort']!;
    table.desc = sort === table.sort ? !table.desc : sort !== 'name';
    table.sort = sort;
    table.offset = 0;
    markSorted();
    refreshTable();
  });
}
let typing: number | undefined;
$<HTMLInputElement>('filter').addEventListener('input', (e) => {
  clearTimeout(typing);
  typing = window.setTimeout(() => {
    table.filter = (e.target as HTMLInputElement).value.trim();
    table.offset = 0;
    refreshTable();
  }, 250);
});
$('prev').addEventListener('click', () => {
  table.offset = Math.max(0, table.offset - PAGE);
  refreshTable();
});
$('next').addEventListener('click', () => {
  if (table.offset + PAGE < table.total) table.offset += PAGE;
  refreshTable();
});
window.addEventListener('resize', () => drawCharts());

markSorted();
void poll();
setInterval(() => void poll(), POLL_MS);
