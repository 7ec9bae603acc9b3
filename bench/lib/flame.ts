// Flame graphs of V8 CPU profiles (`node --cpu-prof` writes them as .cpuprofile JSON), as
// hand-written static SVG with no dependencies; bench/flamegraph.ts is the command line.
//
//   parseProfile   JSON text -> CpuProfile, checked (a ProfileError says what is wrong)
//   foldProfile    the profile's call tree -> a tree of frames, the same function (name, file,
//                  line) under the same parent merged, with self and total sample counts
//   layoutFlame    one rectangle per frame at least --min-percent of all samples wide, the root
//                  at the bottom, widths proportional to total samples
//   topSelf        the functions with the most self samples, over all their call stacks
//   flameSvg       the SVG document

import { esc } from './svg.js';

export interface CallFrame {
  functionName: string;
  url: string;
  /** 0-based; -1 when unknown. */
  lineNumber: number;
  columnNumber?: number;
}

export interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  hitCount?: number;
  children?: number[];
}

export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  /** The node id of each sample; when absent or empty, the nodes' hitCount is used. */
  samples?: number[];
  timeDeltas?: number[];
}

/** project: JS under /dist/src/; js: any other script (node_modules, …); node: node:…; native: V8, builtins, (program), (garbage collector), (idle). */
export type FrameKind = 'project' | 'js' | 'node' | 'native';

export interface Frame {
  /** The function name, "(anonymous)" for an unnamed function. */
  name: string;
  url: string;
  /** 1-based; 0 when unknown. */
  line: number;
  kind: FrameKind;
  /** Samples taken in this frame itself. */
  self: number;
  /** Samples taken in this frame and everything it called. */
  total: number;
  /** Sorted by label. */
  children: Frame[];
}

export class ProfileError extends Error {}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** Parses and checks a .cpuprofile; throws ProfileError naming the first problem. */
export function parseProfile(text: string): CpuProfile {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new ProfileError(`not JSON (${(err as Error).message})`);
  }
  if (!isObject(doc) || !Array.isArray(doc.nodes)) throw new ProfileError('not a V8 CPU profile: no "nodes" array');
  if (doc.nodes.length === 0) throw new ProfileError('the profile has no nodes');
  doc.nodes.forEach((n: unknown, i: number) => {
    const what = `nodes[${i}]`;
    if (!isObject(n) || !Number.isInteger(n.id)) throw new ProfileError(`${what} has no integer "id"`);
    const cf = n.callFrame;
    if (!isObject(cf) || typeof cf.functionName !== 'string' || typeof cf.url !== 'string') {
      throw new ProfileError(`${what} has no callFrame {functionName, url}`);
    }
    if (n.hitCount !== undefined && !(Number.isInteger(n.hitCount) && (n.hitCount as number) >= 0))
      throw new ProfileError(`${what}.hitCount is not a count`);
    if (n.children !== undefined && !(Array.isArray(n.children) && n.children.every((c) => Number.isInteger(c)))) {
      throw new ProfileError(`${what}.children is not a list of node ids`);
    }
  });
  if (doc.samples !== undefined && !(Array.isArray(doc.samples) && doc.samples.every((s) => Number.isInteger(s)))) {
    throw new ProfileError('"samples" is not a list of node ids');
  }
  for (const k of ['startTime', 'endTime']) {
    if (typeof doc[k] !== 'number') throw new ProfileError(`"${k}" is missing or not a number`);
  }
  return doc as unknown as CpuProfile;
}

const NATIVE_NAMES = new Set(['(root)', '(program)', '(garbage collector)', '(idle)']);

export function frameKind(cf: CallFrame): FrameKind {
  if (cf.url === '' || NATIVE_NAMES.has(cf.functionName)) return 'native';
  if (cf.url.startsWith('node:')) return 'node';
  if (cf.url.includes('/dist/src/')) return 'project';
  return 'js';
}

/** A script's url without file:// and the path up to dist/ or node_modules/. */
export function shortUrl(url: string): string {
  const path = url.replace(/^file:\/\//, '');
  const at = path.search(/\/(dist|node_modules)\//);
  return at >= 0 ? path.slice(at + 1) : path;
}

/** "name (file:line)", or just the name of a frame without a script. */
export function frameLabel(f: Pick<Frame, 'name' | 'url' | 'line'>): string {
  if (f.url === '') return f.name;
  return `${f.name} (${shortUrl(f.url)}${f.line > 0 ? `:${f.line}` : ''})`;
}

/** Folds the profile's call tree into merged frames with self and total sample counts. */
export function foldProfile(p: CpuProfile): Frame {
  const byId = new Map<number, ProfileNode>();
  for (const n of p.nodes) {
    if (byId.has(n.id)) throw new ProfileError(`node id ${n.id} appears twice`);
    byId.set(n.id, n);
  }
  const parentOf = new Map<number, number>();
  for (const n of p.nodes) {
    for (const c of n.children ?? []) {
      if (!byId.has(c)) throw new ProfileError(`node ${n.id} has a child ${c} that is not in "nodes"`);
      if (parentOf.has(c)) throw new ProfileError(`node ${c} has two parents (${parentOf.get(c)} and ${n.id})`);
      parentOf.set(c, n.id);
    }
  }
  const roots = p.nodes.filter((n) => !parentOf.has(n.id));
  if (roots.length !== 1) throw new ProfileError(`expected one root node, found ${roots.length}`);

  const hits = new Map<number, number>();
  if (p.samples && p.samples.length > 0) {
    for (const id of p.samples) {
      if (!byId.has(id)) throw new ProfileError(`a sample names node ${id}, which is not in "nodes"`);
      hits.set(id, (hits.get(id) ?? 0) + 1);
    }
  } else for (const n of p.nodes) hits.set(n.id, n.hitCount ?? 0);

  const root: Frame = { name: 'all', url: '', line: 0, kind: 'native', self: 0, total: 0, children: [] };
  const index = new Map<Frame, Map<string, Frame>>();
  const childFrame = (parent: Frame, cf: CallFrame): Frame => {
    let kids = index.get(parent);
    if (!kids) index.set(parent, (kids = new Map()));
    const name = cf.functionName || '(anonymous)';
    const line = cf.lineNumber >= 0 ? cf.lineNumber + 1 : 0;
    const key = `${name}\0${cf.url}\0${line}`;
    let f = kids.get(key);
    if (!f) {
      f = { name, url: cf.url, line, kind: frameKind(cf), self: 0, total: 0, children: [] };
      kids.set(key, f);
      parent.children.push(f);
    }
    return f;
  };
  // Iterative walk: (profile node, the frame it folds into). Every node is visited once, as
  // the parent links checked above form a tree.
  const stack: Array<[ProfileNode, Frame]> = [[roots[0]!, root]];
  while (stack.length > 0) {
    const [node, frame] = stack.pop()!;
    frame.self += hits.get(node.id) ?? 0;
    for (const c of node.children ?? []) {
      const child = byId.get(c)!;
      stack.push([child, childFrame(frame, child.callFrame)]);
    }
  }
  sumTotals(root);
  return root;
}

function sumTotals(f: Frame): number {
  f.children.sort((a, b) => (frameLabel(a) < frameLabel(b) ? -1 : frameLabel(a) > frameLabel(b) ? 1 : 0));
  f.total = f.self;
  for (const c of f.children) f.total += sumTotals(c);
  return f.total;
}

export interface FlameRect {
  x: number;
  /** From the top of the graph area: the deepest frame kept is at 0, the root at the bottom. */
  y: number;
  width: number;
  height: number;
  depth: number;
  frame: Frame;
}

export interface FlameLayout {
  rects: FlameRect[];
  /** Height of the graph area: one frameHeight per depth kept. */
  height: number;
  /** Frames left out as narrower than minPercent (with everything above them). */
  dropped: number;
}

/**
 * One rectangle per frame whose total is at least `minPercent` % of the root's (the root is
 * always kept), `width` pixels for all samples, children left to right in label order.
 */
export function layoutFlame(root: Frame, opts: { width: number; frameHeight: number; minPercent: number }): FlameLayout {
  const minSamples = (root.total * opts.minPercent) / 100;
  const scale = root.total > 0 ? opts.width / root.total : 0;
  const placed: Array<{ x: number; depth: number; frame: Frame }> = [];
  let dropped = 0;
  let maxDepth = 0;
  const walk = (f: Frame, x: number, depth: number): void => {
    placed.push({ x, depth, frame: f });
    maxDepth = Math.max(maxDepth, depth);
    let cx = x;
    for (const c of f.children) {
      if (c.total > 0 && c.total >= minSamples) walk(c, cx, depth + 1);
      else dropped += countFrames(c);
      cx += c.total * scale;
    }
  };
  walk(root, 0, 0);
  const rects = placed.map(({ x, depth, frame }) => ({
    x,
    y: (maxDepth - depth) * opts.frameHeight,
    width: frame.total * scale,
    height: opts.frameHeight,
    depth,
    frame,
  }));
  return { rects, height: (maxDepth + 1) * opts.frameHeight, dropped };
}

function countFrames(f: Frame): number {
  return f.children.reduce((n, c) => n + countFrames(c), 1);
}

export interface SelfEntry {
  label: string;
  kind: FrameKind;
  self: number;
  /** self in % of all samples */
  percent: number;
}

/** The `n` functions (by label) with the most self samples, summed over every stack they are in. */
export function topSelf(root: Frame, n: number): SelfEntry[] {
  const sums = new Map<string, SelfEntry>();
  const walk = (f: Frame): void => {
    if (f !== root && f.self > 0) {
      const label = frameLabel(f);
      const e = sums.get(label) ?? { label, kind: f.kind, self: 0, percent: 0 };
      e.self += f.self;
      sums.set(label, e);
    }
    f.children.forEach(walk);
  };
  walk(root);
  const list = [...sums.values()].sort((a, b) => b.self - a.self || a.label.localeCompare(b.label)).slice(0, n);
  for (const e of list) e.percent = root.total > 0 ? (100 * e.self) / root.total : 0;
  return list;
}

/** Colours per kind; a frame's hash of its name picks one, so neighbours differ. */
export const KIND_COLORS: Record<FrameKind, { legend: string; shades: string[] }> = {
  project: { legend: 'siberite (dist/src)', shades: ['#e8603c', '#ee7a45', '#f09050', '#e56b52', '#f2a05a'] },
  js: { legend: 'other JS (node_modules, …)', shades: ['#e0c040', '#e8cc55', '#d8b838', '#eed468'] },
  node: { legend: 'Node internals (node:…)', shades: ['#6cbf6c', '#80c878', '#5cb464', '#92d088'] },
  native: { legend: 'V8 / native / GC / idle', shades: ['#a8b4c4', '#b8c2d0', '#9cacbe', '#c4ccd8'] },
};

function shade(f: Frame): string {
  let h = 0;
  for (let i = 0; i < f.name.length; i++) h = (h * 31 + f.name.charCodeAt(i)) >>> 0;
  const shades = KIND_COLORS[f.kind].shades;
  return shades[h % shades.length]!;
}

const FONT_SIZE = 11;
/** Approximate advance of one character at FONT_SIZE in Helvetica/Arial. */
const CHAR_WIDTH = 6.2;

/** The label that fits in `width` pixels: cut with ".." when too long; "" when under 3 characters fit. */
export function fitLabel(text: string, width: number): string {
  const max = Math.floor((width - 6) / CHAR_WIDTH);
  if (max < 3) return '';
  return text.length <= max ? text : text.slice(0, max - 2) + '..';
}

export interface FlameSvgOptions {
  title: string;
  subtitle?: string;
  minPercent: number;
  /** Total width of the image in pixels. */
  width?: number;
}

const n1 = (x: number): string => (Math.round(x * 10) / 10).toString();

/** The flame graph as a self-contained SVG document (tooltips in <title>, no scripts). */
export function flameSvg(root: Frame, o: FlameSvgOptions): string {
  const W = o.width ?? 1200;
  const pad = 10;
  const top = o.subtitle ? 74 : 58;
  const { rects, height } = layoutFlame(root, { width: W - 2 * pad, frameHeight: 16, minPercent: o.minPercent });
  const H = top + height + pad;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif" font-size="${FONT_SIZE}">`,
  );
  out.push(`<path d="M0 0H${W}V${H}H0Z" fill="#ffffff"/>`);
  out.push(`<text x="${W / 2}" y="22" font-size="16" font-weight="bold" text-anchor="middle">${esc(o.title)}</text>`);
  if (o.subtitle) out.push(`<text x="${W / 2}" y="40" fill="#555" text-anchor="middle">${esc(o.subtitle)}</text>`);
  let lx = pad;
  for (const { legend, shades } of Object.values(KIND_COLORS)) {
    out.push(`<path d="M${lx} ${top - 22}h12v12h-12Z" fill="${shades[0]}"/><text x="${lx + 16}" y="${top - 12}">${esc(legend)}</text>`);
    lx += 16 + legend.length * CHAR_WIDTH + 24;
  }
  out.push(`<g transform="translate(${pad} ${top})">`);
  for (const r of rects) {
    const f = r.frame;
    const pct = root.total > 0 ? (100 * f.total) / root.total : 0;
    const tip = `${frameLabel(f)} — ${f.total} samples, ${pct.toFixed(2)} %` + (f.children.length > 0 ? `\nself: ${f.self} samples` : '');
    const label = fitLabel(f.name, r.width);
    out.push(
      `<g><title>${esc(tip)}</title>` +
        `<rect x="${n1(r.x)}" y="${r.y}" width="${n1(Math.max(r.width - 0.5, 0.1))}" height="${r.height - 1}" rx="2" fill="${shade(f)}"/>` +
        (label ? `<text x="${n1(r.x + 3)}" y="${r.y + r.height - 4.5}">${esc(label)}</text>` : '') +
        `</g>`,
    );
  }
  out.push('</g>', '</svg>', '');
  return out.join('\n');
}
