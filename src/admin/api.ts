// The dashboard's JSON: an overview (server values, store health, recent samples) and one page
// of the queue table, filtered and sorted on the server in a sliced pass, so the page works the
// same with ten queues or 100,000.
import { type Sample, type Sampler } from './sampler.js';
import { TopK, forEachSliced } from './slices.js';
import { type AdminSource, type CursorSnapshot, type GlobalSnapshot, type QueueSnapshot } from './source.js';

export interface Overview {
  global: GlobalSnapshot;
  samples: Sample[];
}

export async function overview(source: AdminSource, sampler: Sampler, since: number): Promise<Overview> {
  return { global: await source.global(), samples: sampler.since(since) };
}

/** One row of the queue table: a queue's values as JSON (no stats lines). */
export type QueueRow = Pick<
  QueueSnapshot,
  'name' | 'items' | 'bytes' | 'oldestItemAgeSeconds' | 'openTransactions' | 'waiters' | 'added' | 'removed'
> & {
  cursors: Array<Omit<CursorSnapshot, 'stats'>>;
};

export interface QueuePage {
  /** Queues matching the filter. */
  total: number;
  offset: number;
  rows: QueueRow[];
}

const SORT_KEYS = ['name', 'items', 'bytes', 'oldestItemAgeSeconds', 'openTransactions', 'added', 'removed'] as const;
export type SortKey = (typeof SORT_KEYS)[number];
export const MAX_PAGE = 500;
/**
 * Deepest offset served: a page keeps offset + limit rows and sorts them at the end, in one go,
 * so this bounds that pause (10,000 rows sort in a few ms). Past it, filter by name.
 */
export const MAX_OFFSET = 10_000;

export interface PageQuery {
  filter: string;
  sort: SortKey;
  descending: boolean;
  offset: number;
  limit: number;
}

/** Reads the query string; throws an Error with a message for the client on a bad value. */
export function parsePageQuery(params: URLSearchParams): PageQuery {
  const sort = params.get('sort') ?? 'items';
  if (!(SORT_KEYS as readonly string[]).includes(sort)) throw new Error(`sort must be one of ${SORT_KEYS.join(', ')}`);
  const dir = params.get('dir') ?? (sort === 'name' ? 'asc' : 'desc');
  if (dir !== 'asc' && dir !== 'desc') throw new Error('dir must be asc or desc');
  const int = (name: string, fallback: number, max: number) => {
    const text = params.get(name);
    if (text === null || text === '') return fallback;
    if (!/^\d+$/.test(text) || Number(text) > max) throw new Error(`${name} must be an integer from 0 to ${max}`);
    return Number(text);
  };
  const filter = params.get('filter') ?? '';
  if (filter.length > 250) throw new Error('filter is too long');
  return {
    filter: filter.toLowerCase(),
    sort: sort as SortKey,
    descending: dir === 'desc',
    offset: int('offset', 0, MAX_OFFSET),
    limit: int('limit', 50, MAX_PAGE),
  };
}

function rowOf(q: QueueSnapshot): QueueRow {
  return {
    name: q.name,
    items: q.items,
    bytes: q.bytes,
    oldestItemAgeSeconds: q.oldestItemAgeSeconds,
    openTransactions: q.openTransactions,
    waiters: q.waiters,
    added: q.added,
    removed: q.removed,
    cursors: q.cursors.map((c) => ({ name: c.name, lag: c.lag, openTransactions: c.openTransactions })),
  };
}

/** Ascending order by the key, then by name (unknown ages sort lowest). */
type Sortable = Pick<QueueSnapshot, SortKey>;

function comparator(sort: SortKey): (a: Sortable, b: Sortable) => number {
  const byName = (a: Sortable, b: Sortable) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  if (sort === 'name') return byName;
  return (a, b) => (a[sort] ?? -1) - (b[sort] ?? -1) || byName(a, b);
}

export async function queuePage(source: AdminSource, query: PageQuery): Promise<QueuePage> {
  const ascending = comparator(query.sort);
  // TopK keeps the greatest: invert the order for an ascending page.
  const order = query.descending ? ascending : (a: Sortable, b: Sortable) => ascending(b, a);
  const top = new TopK<QueueSnapshot>(query.offset + query.limit, order);
  let total = 0;
  await forEachSliced(source.queues(), (q) => {
    if (query.filter && !q.name.toLowerCase().includes(query.filter)) return;
    total++;
    top.offer(q);
  });
  return { total, offset: query.offset, rows: top.sorted().slice(query.offset).map(rowOf) };
}
