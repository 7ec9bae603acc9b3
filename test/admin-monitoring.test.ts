// The ready-made monitoring in deploy/monitoring: the Prometheus alert rules and the Grafana
// dashboard parse, are well formed, and every PromQL expression in them names only metrics that
// a real server exports (read from its /metrics, not from a list kept by hand).
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { type AdminHandle, scrape, startAdminServer } from './helpers/admin.js';

const DIR = resolve(import.meta.dirname, '../deploy/monitoring');
const KEYWORDS = new Set([
  'and',
  'or',
  'unless',
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'bool',
  'offset',
  'inf',
  'nan',
]);

/** Metric names a PromQL expression reads (Grafana variables allowed). */
function metricNames(expr: string): string[] {
  let e = expr.replace(/\$\{?\w+\}?/g, ' '); // $instance, ${datasource}, $__rate_interval
  e = e.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  e = e.replace(/\{[^}]*\}/g, ' ');
  e = e.replace(/\[[^\]]*\]/g, ' ');
  e = e.replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const names: string[] = [];
  for (const m of e.matchAll(/(?<![\w.:])[a-zA-Z_:][a-zA-Z0-9_:]*(?![\w(])(?!\s*\()/g)) {
    if (!KEYWORDS.has(m[0].toLowerCase())) names.push(m[0]);
  }
  return names;
}

/** Brackets, braces and parentheses open and close in order. */
function balanced(expr: string): boolean {
  const stack: string[] = [];
  const pairs: Record<string, string> = { ')': '(', ']': '[', '}': '{' };
  for (const ch of expr.replace(/"(?:[^"\\]|\\.)*"/g, '""')) {
    if ('([{'.includes(ch)) stack.push(ch);
    else if (ch in pairs && stack.pop() !== pairs[ch]) return false;
  }
  return stack.length === 0;
}

interface Rule {
  alert: string;
  expr: string;
  for?: string;
  labels: { severity: string };
  annotations: { summary: string; description: string };
}

interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { x: number; y: number; w: number; h: number };
  targets?: Array<{ expr: string; refId: string }>;
}

let server: AdminHandle;
/** Every series name the server exports (histogram and summary samples by their own names too). */
const exported = new Set<string>();

beforeAll(async () => {
  server = await startAdminServer();
  for (const family of (await scrape(server.adminPort)).values()) {
    exported.add(family.name);
    for (const s of family.samples) exported.add(s.name);
  }
});

afterAll(async () => {
  expect(await server.stop()).toBe(0);
  server.cleanup();
});

describe('metricNames', () => {
  it('finds the metrics of an expression and nothing else', () => {
    expect(
      metricNames(
        'sum by (queue) (rate(siberite_queue_items_added_total{instance=~"$instance", queue!="_other"}[$__rate_interval])) > 0.9 * (siberite_connections_max > 0) and on (instance) siberite_info',
      ),
    ).toEqual(['siberite_queue_items_added_total', 'siberite_connections_max', 'siberite_info']);
  });
});

describe('Prometheus alert rules', () => {
  const text = readFileSync(resolve(DIR, 'alerts.yml'), 'utf8');
  const doc = YAML.parse(text, { strict: true, uniqueKeys: true }) as { groups: Array<{ name: string; rules: Rule[] }> };
  const rules = doc.groups.flatMap((g) => g.rules);

  it('cover the cases operators asked for, each described', () => {
    const names = rules.map((r) => r.alert);
    expect(names).toEqual(
      expect.arrayContaining([
        'SiberiteQueueBackingUp',
        'SiberiteOldestItemTooOld',
        'SiberiteStoreNotWritable',
        'SiberiteConnectionsNearCap',
        'SiberiteEventLoopLagging',
      ]),
    );
    expect(new Set(names).size).toBe(names.length);
    const docs = readFileSync(resolve(import.meta.dirname, '../docs/monitoring.md'), 'utf8');
    for (const rule of rules) {
      expect(rule.alert).toMatch(/^Siberite[A-Z][A-Za-z]+$/);
      expect(['warning', 'critical'], rule.alert).toContain(rule.labels.severity);
      expect(rule.annotations.summary.length, rule.alert).toBeGreaterThan(10);
      expect(rule.annotations.description.length, rule.alert).toBeGreaterThan(10);
      if (rule.for !== undefined) expect(rule.for, rule.alert).toMatch(/^\d+[smh]$/);
      expect(docs, `docs/monitoring.md describes ${rule.alert}`).toContain(rule.alert);
    }
  });

  it('query only metrics the server exports', () => {
    for (const rule of rules) {
      expect(balanced(rule.expr), rule.alert).toBe(true);
      const names = metricNames(rule.expr);
      expect(names.length, rule.alert).toBeGreaterThan(0);
      for (const name of names) expect(exported.has(name), `${rule.alert}: ${name}`).toBe(true);
    }
  });
});

describe('Grafana dashboard', () => {
  const dash = JSON.parse(readFileSync(resolve(DIR, 'grafana-dashboard.json'), 'utf8')) as {
    uid: string;
    title: string;
    panels: Panel[];
    templating: { list: Array<{ name: string; query: string | { query: string } }> };
  };

  it('is a well-formed dashboard: unique ids, a 24-column grid, a query in every panel', () => {
    expect(dash.uid).toBe('siberite-overview');
    const ids = dash.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const p of dash.panels) {
      expect(p.gridPos.x + p.gridPos.w, p.title).toBeLessThanOrEqual(24);
      if (p.type === 'row') continue;
      expect(p.targets?.length, p.title).toBeGreaterThan(0);
    }
    // No two panels overlap.
    const cells = new Set<string>();
    for (const p of dash.panels) {
      for (let x = p.gridPos.x; x < p.gridPos.x + p.gridPos.w; x++) {
        for (let y = p.gridPos.y; y < p.gridPos.y + p.gridPos.h; y++) {
          expect(cells.has(`${x},${y}`), `${p.title} overlaps at ${x},${y}`).toBe(false);
          cells.add(`${x},${y}`);
        }
      }
    }
  });

  it('queries only metrics the server exports', () => {
    const exprs = dash.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ where: p.title, expr: t.expr })));
    for (const v of dash.templating.list) {
      const q = typeof v.query === 'string' ? v.query : v.query.query;
      const m = /^label_values\((\w+),\s*\w+\)$/.exec(q);
      if (m) exprs.push({ where: `variable ${v.name}`, expr: m[1]! });
    }
    expect(exprs.length).toBeGreaterThan(20);
    for (const { where, expr } of exprs) {
      expect(balanced(expr), where).toBe(true);
      const names = metricNames(expr);
      expect(names.length, where).toBeGreaterThan(0);
      for (const name of names) expect(exported.has(name), `${where}: ${name}`).toBe(true);
    }
  });
});
