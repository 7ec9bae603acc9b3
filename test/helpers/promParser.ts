// A strict parser of the Prometheus text exposition format (version 0.0.4), for tests: every
// line must be a well-formed HELP, TYPE, comment or sample; label syntax and escapes are checked;
// a family's samples must follow its TYPE line, together; histogram and summary samples must
// carry their suffixes and labels; counters must be named `_total`; no series may repeat.
// It throws an Error naming the line on the first fault.

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';

export interface PromSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface PromFamily {
  name: string;
  type: MetricType;
  help: string;
  samples: PromSample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES: readonly MetricType[] = ['counter', 'gauge', 'histogram', 'summary', 'untyped'];

/** Numbers as Prometheus reads them (Go's ParseFloat: Inf and NaN in any letter case). */
function parseValue(text: string, where: string): number {
  const lower = text.toLowerCase();
  if (lower === '+inf' || lower === 'inf') return Infinity;
  if (lower === '-inf') return -Infinity;
  if (lower === 'nan') return NaN;
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text)) throw new Error(`${where}: bad value "${text}"`);
  return Number(text);
}

/** Reads `{a="b",c="d"}` from `line` at `at` (just past `{`); returns the labels and the index past `}`. */
function parseLabels(line: string, at: number, where: string): { labels: Record<string, string>; end: number } {
  const labels: Record<string, string> = {};
  let i = at;
  for (;;) {
    if (line[i] === '}') return { labels, end: i + 1 };
    const eq = line.indexOf('=', i);
    if (eq < 0) throw new Error(`${where}: label without "="`);
    const name = line.slice(i, eq);
    if (!LABEL_NAME.test(name)) throw new Error(`${where}: bad label name "${name}"`);
    if (name in labels) throw new Error(`${where}: label "${name}" twice`);
    if (line[eq + 1] !== '"') throw new Error(`${where}: label value of "${name}" not quoted`);
    let value = '';
    let j = eq + 2;
    for (; ; j++) {
      const ch = line[j];
      if (ch === undefined) throw new Error(`${where}: unterminated label value`);
      if (ch === '"') break;
      if (ch === '\\') {
        const next = line[++j];
        if (next === '\\') value += '\\';
        else if (next === '"') value += '"';
        else if (next === 'n') value += '\n';
        else throw new Error(`${where}: bad escape "\\${next ?? ''}" in a label value`);
      } else {
        value += ch;
      }
    }
    labels[name] = value;
    i = j + 1;
    if (line[i] === ',') i++;
    else if (line[i] !== '}') throw new Error(`${where}: expected "," or "}" after a label`);
  }
}

/** The family a sample name belongs to, given its type's suffixes. */
function familyOf(sample: string, families: Map<string, PromFamily>): PromFamily | undefined {
  const direct = families.get(sample);
  if (direct) return direct;
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (!sample.endsWith(suffix)) continue;
    const family = families.get(sample.slice(0, -suffix.length));
    if (family && (family.type === 'histogram' || (family.type === 'summary' && suffix !== '_bucket'))) return family;
  }
  return undefined;
}

export interface ParseOptions {
  /** Families with this prefix (our own) must also not be named `_total` unless counters. */
  ownPrefix?: string;
}

export function parsePrometheusText(text: string, options: ParseOptions = {}): Map<string, PromFamily> {
  if (text.length > 0 && !text.endsWith('\n')) throw new Error('the exposition must end with a newline');
  const families = new Map<string, PromFamily>();
  const helps = new Map<string, string>();
  const seen = new Set<string>();
  const closed = new Set<string>();
  let current: PromFamily | undefined;
  const lines = text.split('\n');
  lines.pop();
  lines.forEach((line, n) => {
    const where = `line ${n + 1} "${line.slice(0, 80)}"`;
    if (line.trim() === '') return;
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+)(?: (.*))?$/.exec(line);
      if (!m) {
        if (/^#\s*(HELP|TYPE)\b/.test(line)) throw new Error(`${where}: malformed ${line.includes('HELP') ? 'HELP' : 'TYPE'} line`);
        return; // a plain comment
      }
      const [, kind, name, rest = ''] = m;
      if (!METRIC_NAME.test(name!)) throw new Error(`${where}: bad metric name "${name}"`);
      if (kind === 'HELP') {
        if (helps.has(name!)) throw new Error(`${where}: second HELP for ${name}`);
        helps.set(name!, rest);
        const family = families.get(name!);
        if (family) family.help = rest;
        return;
      }
      if (!(TYPES as readonly string[]).includes(rest)) throw new Error(`${where}: unknown type "${rest}"`);
      if (families.has(name!)) throw new Error(`${where}: second TYPE for ${name}`);
      if (current) closed.add(current.name);
      current = { name: name!, type: rest as MetricType, help: helps.get(name!) ?? '', samples: [] };
      families.set(name!, current);
      return;
    }
    const nameEnd = line.search(/[{ ]/);
    if (nameEnd <= 0) throw new Error(`${where}: not a sample`);
    const name = line.slice(0, nameEnd);
    if (!METRIC_NAME.test(name)) throw new Error(`${where}: bad metric name "${name}"`);
    let labels: Record<string, string> = {};
    let i = nameEnd;
    if (line[i] === '{') ({ labels, end: i } = parseLabels(line, i + 1, where));
    if (line[i] !== ' ') throw new Error(`${where}: expected a space before the value`);
    const parts = line.slice(i + 1).split(' ');
    if (parts.length > 2 || parts[0] === '') throw new Error(`${where}: expected "value [timestamp]"`);
    const value = parseValue(parts[0]!, where);
    if (parts.length === 2 && !/^-?\d+$/.test(parts[1]!)) throw new Error(`${where}: bad timestamp "${parts[1]}"`);
    const family = familyOf(name, families);
    if (!family) throw new Error(`${where}: sample of ${name} without a TYPE line before it`);
    if (family !== current || closed.has(family.name)) throw new Error(`${where}: samples of ${family.name} are not together`);
    if (family.type === 'histogram' && name.endsWith('_bucket') && !('le' in labels)) throw new Error(`${where}: bucket without "le"`);
    if (family.type === 'histogram' && name === family.name) throw new Error(`${where}: histogram sample without a suffix`);
    if (family.type === 'counter' && !(value >= 0)) throw new Error(`${where}: negative counter`);
    const key = `${name}{${Object.entries(labels)
      .sort()
      .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
      .join(',')}}`;
    if (seen.has(key)) throw new Error(`${where}: series ${key} twice`);
    seen.add(key);
    family.samples.push({ name, labels, value });
  });
  for (const family of families.values()) {
    if (family.type === 'counter' && !family.name.endsWith('_total')) throw new Error(`counter ${family.name} is not named _total`);
    const own = options.ownPrefix !== undefined && family.name.startsWith(options.ownPrefix);
    if (own && family.type !== 'counter' && family.name.endsWith('_total'))
      throw new Error(`${family.type} ${family.name} is named like a counter`);
    if (!helps.has(family.name)) throw new Error(`${family.name} has no HELP line`);
  }
  return families;
}

/** The value of the one sample of `name` whose labels include `labels`; undefined when none. */
export function sampleValue(families: Map<string, PromFamily>, name: string, labels: Record<string, string> = {}): number | undefined {
  const family = familyOf(name, families);
  const matches = (family?.samples ?? []).filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (matches.length > 1) throw new Error(`${name} ${JSON.stringify(labels)} matches ${matches.length} series`);
  return matches[0]?.value;
}
