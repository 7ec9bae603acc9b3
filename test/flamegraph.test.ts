// bench/lib/flame.ts (the pure part of bench/flamegraph.ts): folding a hand-written V8 CPU
// profile into merged frames, pruning, layout, and the SVG it writes. No server.
import { describe, expect, it } from 'vitest';

import {
  fitLabel,
  flameSvg,
  foldProfile,
  frameKind,
  layoutFlame,
  parseProfile,
  ProfileError,
  topSelf,
  type CpuProfile,
  type Frame,
  type ProfileNode,
} from '../bench/lib/flame.js';

function node(id: number, functionName: string, url: string, lineNumber: number, children: number[] = []): ProfileNode {
  return { id, callFrame: { functionName, url, lineNumber, columnNumber: 0 }, hitCount: 0, children };
}

const SRC = 'file:///work/main/dist/src/';

/**
 * (root) ─┬─ (program)                                  5 samples
 *         ├─ main (server.js)                          10 self
 *         │   ├─ parse (text.js:20)   node 5           20 self
 *         │   ├─ parse (text.js:20)   node 6, merged   10 self
 *         │   │   └─ a<b&c (node:internal/x)            4
 *         │   └─ tiny (node_modules)                    1
 *         └─ (garbage collector)                       50
 * 100 samples in all.
 */
function profile(): CpuProfile {
  const counts: Record<number, number> = { 2: 5, 3: 10, 5: 20, 6: 10, 8: 4, 7: 1, 4: 50 };
  const samples = Object.entries(counts).flatMap(([id, n]) => Array<number>(n).fill(Number(id)));
  return {
    nodes: [
      node(1, '(root)', '', -1, [2, 3, 4]),
      node(2, '(program)', '', -1),
      node(3, 'main', `${SRC}server.js`, 9, [5, 6, 7]),
      node(4, '(garbage collector)', '', -1),
      node(5, 'parse', `${SRC}protocol/text.js`, 19),
      node(6, 'parse', `${SRC}protocol/text.js`, 19, [8]),
      node(7, 'tiny', 'file:///work/main/node_modules/foo/index.js', 0),
      node(8, 'a<b&c', 'node:internal/x', 3),
    ],
    startTime: 0,
    endTime: 100_000,
    samples,
    timeDeltas: samples.map(() => 1000),
  };
}

function child(f: Frame, name: string): Frame {
  const c = f.children.find((x) => x.name === name);
  if (!c) throw new Error(`no child ${name} under ${f.name}`);
  return c;
}

describe('foldProfile', () => {
  it('merges the same function under the same parent and sums self and total samples', () => {
    const root = foldProfile(profile());
    expect(root.total).toBe(100);
    expect(root.self).toBe(0);
    expect(root.children.map((c) => c.name)).toEqual(['(garbage collector)', '(program)', 'main']);
    const main = child(root, 'main');
    expect(main).toMatchObject({ self: 10, total: 45, line: 10, kind: 'project' });
    expect(main.children.map((c) => c.name)).toEqual(['parse', 'tiny']); // the two parse nodes are one frame
    const parse = child(main, 'parse');
    expect(parse).toMatchObject({ self: 30, total: 34 });
    expect(child(parse, 'a<b&c')).toMatchObject({ self: 4, total: 4, kind: 'node' });
    expect(child(main, 'tiny')).toMatchObject({ self: 1, total: 1, kind: 'js' });
    expect(child(root, '(garbage collector)')).toMatchObject({ self: 50, total: 50, kind: 'native' });
  });

  it('uses hitCount when there are no samples', () => {
    const p = profile();
    for (const n of p.nodes) n.hitCount = p.samples!.filter((s) => s === n.id).length;
    delete p.samples;
    const root = foldProfile(p);
    expect(root.total).toBe(100);
    expect(child(child(root, 'main'), 'parse').total).toBe(34);
  });

  it('lists the top functions by self samples', () => {
    const top = topSelf(foldProfile(profile()), 3);
    expect(top.map((e) => [e.label, e.self, e.percent])).toEqual([
      ['(garbage collector)', 50, 50],
      ['parse (dist/src/protocol/text.js:20)', 30, 30],
      ['main (dist/src/server.js:10)', 10, 10],
    ]);
  });

  it('refuses what is not a call tree', () => {
    const p = profile();
    p.nodes[0]!.children!.push(99);
    expect(() => foldProfile(p)).toThrow(/child 99/);
    const q = profile();
    q.nodes[1]!.children = [3]; // node 3 under (root) and (program)
    expect(() => foldProfile(q)).toThrow(ProfileError);
  });
});

describe('parseProfile', () => {
  it('accepts a profile and names what is wrong with anything else', () => {
    expect(parseProfile(JSON.stringify(profile())).nodes).toHaveLength(8);
    expect(() => parseProfile('not json')).toThrow(/not JSON/);
    expect(() => parseProfile('{"samples":[]}')).toThrow(/no "nodes" array/);
    expect(() => parseProfile('{"nodes":[{"id":1}],"startTime":0,"endTime":1}')).toThrow(/nodes\[0\] has no callFrame/);
  });
});

describe('frameKind', () => {
  it('tells project, other JS, Node internals and native frames apart', () => {
    expect(frameKind({ functionName: 'f', url: `${SRC}queue.js`, lineNumber: 1 })).toBe('project');
    expect(frameKind({ functionName: 'f', url: 'file:///x/node_modules/pino/pino.js', lineNumber: 1 })).toBe('js');
    expect(frameKind({ functionName: 'f', url: 'node:net', lineNumber: 1 })).toBe('node');
    expect(frameKind({ functionName: 'writev', url: '', lineNumber: -1 })).toBe('native');
    expect(frameKind({ functionName: '(idle)', url: '', lineNumber: -1 })).toBe('native');
  });
});

describe('layoutFlame', () => {
  const opts = { width: 1000, frameHeight: 16 };

  it('puts the root at the bottom and sizes frames by their total samples', () => {
    const { rects, height, dropped } = layoutFlame(foldProfile(profile()), { ...opts, minPercent: 0 });
    expect(rects).toHaveLength(7);
    expect(dropped).toBe(0);
    expect(height).toBe(4 * 16); // all, main, parse, a<b&c
    const at = (name: string) => rects.find((r) => r.frame.name === name)!;
    expect(at('all')).toMatchObject({ x: 0, y: 48, width: 1000, depth: 0 });
    expect(at('a<b&c')).toMatchObject({ y: 0, depth: 3 });
    // children left to right in label order: (garbage collector) 50, (program) 5, main 45
    expect(at('(program)').x).toBeCloseTo(500);
    expect(at('main')).toMatchObject({ x: 550, width: 450 });
    expect(at('parse')).toMatchObject({ x: 550, width: 340 });
    expect(at('tiny').x).toBeCloseTo(890);
  });

  it('leaves out frames under --min-percent, with everything above them', () => {
    const root = foldProfile(profile());
    const at2 = layoutFlame(root, { ...opts, minPercent: 2 });
    expect(at2.rects.map((r) => r.frame.name)).not.toContain('tiny');
    expect(at2.rects).toHaveLength(6);
    expect(at2.dropped).toBe(1);
    const at10 = layoutFlame(root, { ...opts, minPercent: 10 });
    expect(at10.rects.map((r) => r.frame.name).sort()).toEqual(['(garbage collector)', 'all', 'main', 'parse']);
    expect(at10.dropped).toBe(3);
    expect(at10.height).toBe(3 * 16);
    const at40 = layoutFlame(root, { ...opts, minPercent: 40 });
    expect(at40.rects.map((r) => r.frame.name).sort()).toEqual(['(garbage collector)', 'all', 'main']);
    expect(at40.dropped).toBe(4); // (program), parse and a<b&c above it, tiny
  });
});

describe('flameSvg', () => {
  /** Checks that every tag is closed in order; returns the element names in document order. */
  function elements(svg: string): string[] {
    const open: string[] = [];
    const seen: string[] = [];
    for (const m of svg.matchAll(/<(\/?)([A-Za-z][\w:-]*)[^>]*?(\/?)>/g)) {
      const [, closing, name, selfClosing] = m;
      if (closing) expect(open.pop(), `</${name}>`).toBe(name);
      else {
        seen.push(name!);
        if (!selfClosing) open.push(name!);
      }
    }
    expect(open).toEqual([]);
    return seen;
  }

  it('is well-formed, with one rect per kept frame and escaped tooltips', () => {
    const root = foldProfile(profile());
    const svg = flameSvg(root, { title: 'profile of <x> & y', subtitle: '100 samples', minPercent: 2 });
    const els = elements(svg);
    expect(els[0]).toBe('svg');
    expect(els.filter((e) => e === 'rect')).toHaveLength(6);
    expect(els.filter((e) => e === 'title')).toHaveLength(6);
    expect(svg).not.toContain('a<b&c');
    expect(svg).toContain('<title>a&lt;b&amp;c (node:internal/x:4) — 4 samples, 4.00 %</title>');
    expect(svg).toContain('profile of &lt;x&gt; &amp; y');
    expect(svg).toContain('<title>parse (dist/src/protocol/text.js:20) — 34 samples, 34.00 %\nself: 30 samples</title>');
    expect(svg.match(/&(?!(amp|lt|gt|quot|apos|#\d+);)/g)).toBeNull();
    // text is markup-free between tags
    for (const m of svg.matchAll(/>([^<]*)</g)) expect(m[1]).not.toMatch(/[<>]/);
  });

  it('clips labels to the rectangle', () => {
    expect(fitLabel('parse', 200)).toBe('parse');
    expect(fitLabel('averyveryverylongfunctionname', 60)).toBe('averyv..'); // 8 characters of ~6.2 px
    expect(fitLabel('parse', 20)).toBe('');
  });
});
