// Hand-written SVG charts (no dependencies) for bench/charts.ts: a line chart and a grouped bar
// chart, each with axes, ticks, axis labels, a title, a legend and optional horizontal
// reference lines (targets).

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#7f7f7f', '#bcbd22'];

export function color(i: number): string {
  return PALETTE[i % PALETTE.length]!;
}

export function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** "1.5M", "250k", "12", "0.5" */
export function shortNumber(x: number): string {
  const a = Math.abs(x);
  const trim = (s: string): string => s.replace(/\.0+$/, '').replace(/(\.\d*?)0+$/, '$1');
  if (a >= 1e6) return trim((x / 1e6).toFixed(2)) + 'M';
  if (a >= 1e3) return trim((x / 1e3).toFixed(1)) + 'k';
  if (a === 0 || a >= 1) return trim(x.toFixed(1));
  return trim(x.toPrecision(2));
}

/** Round tick positions covering [0 or min, max]. */
export function niceTicks(min: number, max: number, count = 5): number[] {
  if (!(max > min)) max = min + 1;
  const raw = (max - min) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const start = Math.floor(min / step) * step;
  const ticks: number[] = [];
  for (let v = start; v <= max + step * 0.5 && ticks.length < 50; v += step) ticks.push(Number(v.toPrecision(12)));
  if (ticks.at(-1)! < max) ticks.push(Number((ticks.at(-1)! + step).toPrecision(12)));
  return ticks;
}

export interface RefLine {
  y: number;
  label: string;
}

interface Frame {
  title: string;
  subtitle?: string;
  xLabel: string;
  yLabel: string;
  width?: number;
  height?: number;
}

const M = { left: 78, right: 230, top: 66, bottom: 58 };
const SUBTITLE_CHARS = 120;
const FONT = 'font-family="Helvetica, Arial, sans-serif"';

/** Splits text into lines of at most `width` characters at spaces. */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let cur = '';
  for (const word of text.split(' ')) {
    if (cur !== '' && cur.length + 1 + word.length > width) {
      lines.push(cur);
      cur = word;
    } else cur = cur === '' ? word : `${cur} ${word}`;
  }
  if (cur !== '') lines.push(cur);
  return lines;
}

function frameParts(f: Frame, w: number, h: number): string[] {
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" ${FONT} font-size="12">`);
  out.push(`<rect width="${w}" height="${h}" fill="#ffffff"/>`);
  out.push(`<text x="${M.left}" y="22" font-size="16" font-weight="bold">${esc(f.title)}</text>`);
  if (f.subtitle) {
    wrap(f.subtitle, SUBTITLE_CHARS)
      .slice(0, 2)
      .forEach((line, i) => out.push(`<text x="${M.left}" y="${39 + i * 14}" font-size="11" fill="#555">${esc(line)}</text>`));
  }
  const plotW = w - M.left - M.right;
  const plotH = h - M.top - M.bottom;
  out.push(`<text x="${M.left + plotW / 2}" y="${h - 14}" text-anchor="middle">${esc(f.xLabel)}</text>`);
  out.push(`<text transform="translate(18 ${M.top + plotH / 2}) rotate(-90)" text-anchor="middle">${esc(f.yLabel)}</text>`);
  return out;
}

function yAxis(out: string[], ticks: number[], y: (v: number) => number, x0: number, x1: number): void {
  for (const t of ticks) {
    const yy = y(t).toFixed(1);
    out.push(`<line x1="${x0}" y1="${yy}" x2="${x1}" y2="${yy}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${x0 - 6}" y="${yy}" text-anchor="end" dominant-baseline="middle">${esc(shortNumber(t))}</text>`);
  }
  out.push(`<line x1="${x0}" y1="${y(ticks[0]!).toFixed(1)}" x2="${x0}" y2="${y(ticks.at(-1)!).toFixed(1)}" stroke="#333"/>`);
}

function refLines(out: string[], lines: RefLine[] | undefined, y: (v: number) => number, x0: number, x1: number): void {
  for (const r of lines ?? []) {
    const yy = y(r.y).toFixed(1);
    out.push(`<line x1="${x0}" y1="${yy}" x2="${x1}" y2="${yy}" stroke="#444" stroke-dasharray="2 4" stroke-width="1.5"/>`);
    out.push(`<text x="${x1 - 4}" y="${(y(r.y) - 5).toFixed(1)}" text-anchor="end" font-size="11" fill="#444">${esc(r.label)}</text>`);
  }
}

interface LegendEntry {
  name: string;
  color: string;
  dash?: string;
  bar?: boolean;
}

function legend(out: string[], entries: LegendEntry[], x: number, y: number): void {
  entries.forEach((e, i) => {
    const yy = y + i * 20;
    if (e.bar) out.push(`<rect x="${x}" y="${yy - 6}" width="22" height="12" fill="${e.color}"/>`);
    else
      out.push(
        `<line x1="${x}" y1="${yy}" x2="${x + 22}" y2="${yy}" stroke="${e.color}" stroke-width="2.5"${e.dash ? ` stroke-dasharray="${e.dash}"` : ''}/>`,
      );
    out.push(`<text x="${x + 30}" y="${yy}" dominant-baseline="middle">${esc(e.name)}</text>`);
  });
}

export interface LineSeries {
  name: string;
  points: Array<[number, number]>;
  color?: string;
  dash?: string;
}

export interface LineChart extends Frame {
  series: LineSeries[];
  refLines?: RefLine[];
}

export function lineChart(c: LineChart): string {
  const w = c.width ?? 880;
  const h = c.height ?? 440;
  const out = frameParts(c, w, h);
  const x0 = M.left;
  const x1 = w - M.right;
  const yTop = M.top;
  const yBot = h - M.bottom;
  const xs = c.series.flatMap((s) => s.points.map((p) => p[0]));
  const ys = c.series.flatMap((s) => s.points.map((p) => p[1])).concat((c.refLines ?? []).map((r) => r.y));
  const xt = niceTicks(Math.min(0, ...xs), Math.max(1, ...xs));
  const yt = niceTicks(0, Math.max(1, ...ys) * 1.05);
  const x = (v: number): number => x0 + ((v - xt[0]!) / (xt.at(-1)! - xt[0]!)) * (x1 - x0);
  const y = (v: number): number => yBot - ((v - yt[0]!) / (yt.at(-1)! - yt[0]!)) * (yBot - yTop);
  yAxis(out, yt, y, x0, x1);
  for (const t of xt) {
    const xx = x(t).toFixed(1);
    out.push(`<line x1="${xx}" y1="${yBot}" x2="${xx}" y2="${yBot + 5}" stroke="#333"/>`);
    out.push(`<text x="${xx}" y="${yBot + 18}" text-anchor="middle">${esc(shortNumber(t))}</text>`);
  }
  out.push(`<line x1="${x0}" y1="${yBot}" x2="${x1}" y2="${yBot}" stroke="#333"/>`);
  refLines(out, c.refLines, y, x0, x1);
  const entries: LegendEntry[] = [];
  c.series.forEach((s, i) => {
    const col = s.color ?? color(i);
    if (s.points.length > 0) {
      const d = s.points.map((p, k) => `${k === 0 ? 'M' : 'L'}${x(p[0]).toFixed(1)} ${y(p[1]).toFixed(1)}`).join(' ');
      out.push(`<path d="${d}" fill="none" stroke="${col}" stroke-width="2.5"${s.dash ? ` stroke-dasharray="${s.dash}"` : ''}/>`);
      for (const p of s.points) {
        out.push(
          `<circle cx="${x(p[0]).toFixed(1)}" cy="${y(p[1]).toFixed(1)}" r="3.5" fill="${col}"><title>${esc(`${s.name}: ${shortNumber(p[0])} → ${shortNumber(p[1])}`)}</title></circle>`,
        );
      }
    }
    entries.push({ name: s.name, color: col, ...(s.dash ? { dash: s.dash } : {}) });
  });
  legend(out, entries, x1 + 20, yTop + 10);
  out.push('</svg>');
  return out.join('\n') + '\n';
}

export interface BarSeries {
  name: string;
  /** One value per category (null: no bar). */
  values: Array<number | null>;
  color?: string;
}

export interface BarChart extends Frame {
  categories: string[];
  series: BarSeries[];
  refLines?: RefLine[];
  /** Print each bar's value above it. */
  valueLabels?: boolean;
}

export function barChart(c: BarChart): string {
  const w = c.width ?? 880;
  const h = c.height ?? 440;
  const out = frameParts(c, w, h);
  const x0 = M.left;
  const x1 = w - M.right;
  const yTop = M.top;
  const yBot = h - M.bottom;
  const vals = c.series.flatMap((s) => s.values.filter((v): v is number => v !== null)).concat((c.refLines ?? []).map((r) => r.y));
  const yt = niceTicks(0, Math.max(1, ...vals) * 1.08);
  const y = (v: number): number => yBot - ((v - yt[0]!) / (yt.at(-1)! - yt[0]!)) * (yBot - yTop);
  yAxis(out, yt, y, x0, x1);
  const groupW = (x1 - x0) / Math.max(1, c.categories.length);
  const barW = Math.min(60, (groupW * 0.8) / Math.max(1, c.series.length));
  c.categories.forEach((cat, ci) => {
    const gx = x0 + ci * groupW;
    const first = gx + (groupW - barW * c.series.length) / 2;
    c.series.forEach((s, si) => {
      const v = s.values[ci];
      if (v === null || v === undefined) return;
      const bx = first + si * barW;
      const by = y(v);
      const col = s.color ?? color(si);
      out.push(
        `<rect x="${bx.toFixed(1)}" y="${by.toFixed(1)}" width="${(barW - 2).toFixed(1)}" height="${Math.max(0, yBot - by).toFixed(1)}" fill="${col}"><title>${esc(`${s.name}, ${cat}: ${shortNumber(v)}`)}</title></rect>`,
      );
      if (c.valueLabels)
        out.push(
          `<text x="${(bx + (barW - 2) / 2).toFixed(1)}" y="${(by - 4).toFixed(1)}" text-anchor="middle" font-size="10">${esc(shortNumber(v))}</text>`,
        );
    });
    out.push(`<text x="${(gx + groupW / 2).toFixed(1)}" y="${yBot + 18}" text-anchor="middle">${esc(cat)}</text>`);
  });
  out.push(`<line x1="${x0}" y1="${yBot}" x2="${x1}" y2="${yBot}" stroke="#333"/>`);
  refLines(out, c.refLines, y, x0, x1);
  legend(
    out,
    c.series.map((s, i) => ({ name: s.name, color: s.color ?? color(i), bar: true })),
    x1 + 20,
    yTop + 10,
  );
  out.push('</svg>');
  return out.join('\n') + '\n';
}
