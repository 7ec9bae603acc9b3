// The dashboard's page and style sheet. Kept as strings so they ship inside dist/ with the
// compiled script (ui/app.ts); uPlot comes from node_modules. No CDN, no build step.

export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Siberite</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/vendor/uPlot.min.css">
<link rel="stylesheet" href="/ui/style.css">
</head>
<body>
<header>
  <div class="brand"><span class="logo">◆</span> Siberite <span id="version" class="muted"></span></div>
  <div class="health">
    <span id="status" class="badge">…</span>
    <span id="store" class="badge">store …</span>
    <span id="ready" class="badge">…</span>
    <span id="updated" class="muted"></span>
  </div>
</header>
<main>
  <section class="cards">
    <div class="card"><div class="label">Items queued</div><div class="value" id="c-items">–</div></div>
    <div class="card"><div class="label">Bytes queued</div><div class="value" id="c-bytes">–</div></div>
    <div class="card"><div class="label">Sets / s</div><div class="value" id="c-sets">–</div></div>
    <div class="card"><div class="label">Gets / s</div><div class="value" id="c-gets">–</div></div>
    <div class="card"><div class="label">Connections</div><div class="value" id="c-conns">–</div></div>
    <div class="card"><div class="label">Queues</div><div class="value" id="c-queues">–</div></div>
    <div class="card"><div class="label">Write-ahead log</div><div class="value" id="c-wal">–</div></div>
    <div class="card"><div class="label">Store errors</div><div class="value" id="c-errors">–</div></div>
  </section>
  <section class="charts">
    <figure><figcaption>Throughput (per second)</figcaption><div class="chart" id="chart-rates"></div></figure>
    <figure><figcaption>Depth of the deepest queues</figcaption><div class="chart" id="chart-depth"></div></figure>
    <figure><figcaption>Connections</figcaption><div class="chart" id="chart-conns"></div></figure>
    <figure><figcaption>Process: resident memory and event-loop lag (p99)</figcaption><div class="chart" id="chart-process"></div></figure>
  </section>
  <section class="queues">
    <div class="toolbar">
      <h2>Queues</h2>
      <input id="filter" type="search" placeholder="Filter by name…" autocomplete="off" aria-label="Filter queues by name">
      <span id="range" class="muted"></span>
      <button id="prev" type="button" aria-label="Previous page">‹</button>
      <button id="next" type="button" aria-label="Next page">›</button>
    </div>
    <table id="queues">
      <thead><tr>
        <th data-sort="name">Queue</th>
        <th data-sort="items" class="num">Depth</th>
        <th data-sort="bytes" class="num">Bytes</th>
        <th data-sort="oldestItemAgeSeconds" class="num">Oldest</th>
        <th class="num" title="Items added per second (between two refreshes)">In / s</th>
        <th class="num" title="Items removed per second (between two refreshes)">Out / s</th>
        <th data-sort="openTransactions" class="num">Open</th>
        <th class="num">Waiters</th>
        <th>Cursors (lag)</th>
      </tr></thead>
      <tbody></tbody>
    </table>
  </section>
</main>
<script src="/vendor/uPlot.iife.min.js"></script>
<script type="module" src="/ui/app.js"></script>
</body>
</html>
`;

export const DASHBOARD_CSS = `
:root { --bg: #f4f6fa; --panel: #fff; --ink: #1c2433; --muted: #6b7487; --line: #e3e7ef;
  --accent: #3b6fe0; --ok: #1f9d63; --bad: #d8453b; --warn: #d99a1e; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink);
  font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; }
header { display: flex; justify-content: space-between; align-items: center; padding: 12px 24px;
  background: #18213a; color: #fff; }
.brand { font-size: 18px; font-weight: 600; letter-spacing: .3px; }
.logo { color: #7fb0ff; }
header .muted { color: #a9b3c9; font-weight: 400; font-size: 13px; margin-left: 6px; }
.health { display: flex; gap: 8px; align-items: center; }
.badge { padding: 3px 10px; border-radius: 999px; font-size: 12px; font-weight: 600; background: #33405f; }
.badge.ok { background: var(--ok); } .badge.bad { background: var(--bad); } .badge.warn { background: var(--warn); }
main { padding: 18px 24px 32px; max-width: 1500px; margin: 0 auto; }
.cards { display: grid; grid-template-columns: repeat(8, 1fr); gap: 12px; }
.card { background: var(--panel); border: 1px solid var(--line); border-radius: 10px; padding: 10px 14px; }
.card .label { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .4px; }
.card .value { font-size: 22px; font-weight: 600; font-variant-numeric: tabular-nums; margin-top: 2px; }
.card .value.bad { color: var(--bad); }
.charts { display: grid; grid-template-columns: 1fr 1fr; gap: 12px; margin-top: 14px; }
figure { margin: 0; background: var(--panel); border: 1px solid var(--line); border-radius: 10px; padding: 10px 12px 6px; min-width: 0; }
figcaption { font-weight: 600; margin-bottom: 4px; }
.chart { height: 200px; }
.queues { margin-top: 14px; background: var(--panel); border: 1px solid var(--line); border-radius: 10px; padding: 6px 0 8px; }
.toolbar { display: flex; align-items: center; gap: 10px; padding: 6px 14px 10px; }
.toolbar h2 { font-size: 15px; margin: 0 auto 0 0; }
.toolbar input { width: 260px; padding: 6px 10px; border: 1px solid var(--line); border-radius: 6px; font: inherit; }
.toolbar button { border: 1px solid var(--line); background: #fff; border-radius: 6px; width: 30px; height: 30px; font-size: 16px; cursor: pointer; }
.toolbar button:disabled { opacity: .4; cursor: default; }
.muted { color: var(--muted); }
#queues { width: 100%; border-collapse: collapse; font-variant-numeric: tabular-nums; }
#queues th, #queues td { padding: 7px 14px; border-top: 1px solid var(--line); text-align: left; white-space: nowrap; }
#queues th { color: var(--muted); font-weight: 600; font-size: 12px; text-transform: uppercase; letter-spacing: .3px; user-select: none; }
#queues th[data-sort] { cursor: pointer; } #queues th[data-sort]:hover { color: var(--ink); }
#queues th.sorted::after { content: " ▾"; } #queues th.sorted.asc::after { content: " ▴"; }
#queues tbody tr:hover { background: #f8faff; }
.u-legend { font-size: 12px; color: var(--muted); }
.u-legend .u-marker { border-radius: 2px; }
#queues .num { text-align: right; }
td.name { font-family: ui-monospace, "DejaVu Sans Mono", monospace; max-width: 380px; overflow: hidden; text-overflow: ellipsis; }
td.cursors { font-size: 12px; color: var(--muted); }
.pill { display: inline-block; background: #eef2fb; color: #33456e; border-radius: 4px; padding: 1px 6px; margin-right: 4px; }
.empty { text-align: center; color: var(--muted); padding: 20px; }
@media (max-width: 1100px) { .cards { grid-template-columns: repeat(4, 1fr); } .charts { grid-template-columns: 1fr; } }
`;
