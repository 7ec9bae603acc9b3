// The repository stands on its own: every citation in src/, test/ and bench/ of a document —
// `docs/<name>.md#<section>` — names a file in docs/ and a heading in it, and nothing cites
// sections by number (the section sign) of a specification that is not here.
import { readFileSync, readdirSync, existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '..');

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (name === 'node_modules' || name === 'fixtures') return [];
    return statSync(path).isDirectory() ? files(path) : /\.(ts|py|sh)$/.test(name) ? [path] : [];
  });
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
function slug(heading: string): string {
  return heading
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s-]/gu, '')
    .trim()
    .replace(/\s/g, '-');
}

const anchorsOf = new Map<string, Set<string>>();
function anchors(doc: string): Set<string> {
  let set = anchorsOf.get(doc);
  if (!set) {
    const text = readFileSync(join(ROOT, doc), 'utf8');
    set = new Set([...text.matchAll(/^#{1,6} (.+)$/gm)].map((m) => slug(m[1]!)));
    anchorsOf.set(doc, set);
  }
  return set;
}

const SECTION_SIGN = String.fromCharCode(0xa7);
const sources = ['src', 'test', 'bench'].flatMap((d) => files(join(ROOT, d)));

describe('citations', () => {
  it('no section numbers of an outside specification', () => {
    const offenders = sources.filter((f) => readFileSync(f, 'utf8').includes(SECTION_SIGN)).map((f) => f.slice(ROOT.length + 1));
    expect(offenders).toEqual([]);
  });

  it('every docs/….md#section cited resolves to a heading of a file in docs/', () => {
    const broken: string[] = [];
    let count = 0;
    for (const f of sources) {
      for (const m of readFileSync(f, 'utf8').matchAll(/docs\/([\w-]+\.md)(?:#([\w-]+))?/g)) {
        count++;
        const doc = `docs/${m[1]}`;
        if (!existsSync(join(ROOT, doc))) broken.push(`${f.slice(ROOT.length + 1)}: ${m[0]} (no such file)`);
        else if (m[2] && !anchors(doc).has(m[2])) broken.push(`${f.slice(ROOT.length + 1)}: ${m[0]} (no such heading)`);
      }
    }
    expect(broken).toEqual([]);
    expect(count).toBeGreaterThan(50);
  });

  it('no citation of a file outside the repository', () => {
    const offenders = sources.filter((f) => /\.\.\/shared\//.test(readFileSync(f, 'utf8'))).map((f) => f.slice(ROOT.length + 1));
    expect(offenders).toEqual([]);
  });
});
