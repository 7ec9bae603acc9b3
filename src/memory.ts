// Gives freed native heap memory back to the system. glibc's free() returns pages only from the
// top of a heap; after a backlog has passed through LevelDB's memtables and Node's buffers,
// most of the heap is free pages in the middle that stay resident until malloc_trim(0) is
// called. The call comes from a small addon (src/native) that `npm install` builds; where it
// could not be built, or the C library is not glibc, trimming is simply skipped.
import { createRequire } from 'node:module';
import { setFlagsFromString } from 'node:v8';

interface MallocTrimAddon {
  /** true if pages went back to the system, false if none could, null without glibc. */
  trim(): boolean | null;
  /** Built against glibc (elsewhere there is no malloc_trim and trim() does nothing). */
  glibc: boolean;
}

/** The addon as built in place (src/native/build), from src/ (tests) or dist/src/ (the server). */
const ADDON_PATHS = ['./native/build/Release/malloc_trim.node', '../../src/native/build/Release/malloc_trim.node'];

function loadAddon(): { addon: MallocTrimAddon | undefined; failure: string | undefined } {
  const require = createRequire(import.meta.url);
  const failures: string[] = [];
  for (const path of ADDON_PATHS) {
    try {
      return { addon: require(path) as MallocTrimAddon, failure: undefined };
    } catch (err) {
      // Expected at one of the paths (only one layout exists); kept for the report if none loads.
      failures.push(String((err as Error).message).split('\n')[0]!);
    }
  }
  return { addon: undefined, failure: failures.join('; ') };
}

const { addon, failure: addonFailure } = loadAddon();

/**
 * Why the addon could not be loaded (undefined when it was): for the start-up log line, since
 * importing this module logs nothing itself. Tolerable: the server runs on without trimming.
 */
export const heapTrimUnavailable: string | undefined = addonFailure;

/** Whether freed heap memory can be returned to the system on this build and C library. */
export const canTrimHeap = addon?.glibc === true;

/** Returns free heap pages to the system; false if nothing was returned or it cannot be done. */
export function trimHeap(): boolean {
  return addon?.trim() === true;
}

/** Requests in one sweep interval below which the server counts as quiet. */
const QUIET_REQUESTS = 1000;
/** Under steady load a trim still runs this often (it holds the main thread for up to ~10 ms). */
const BUSY_TRIM_INTERVAL_MS = 30_000;

/**
 * When to trim, decided once per sweep from the request counter: once the server goes quiet
 * after activity (a drained backlog leaves its heap free), and at most every 30 s under steady
 * load. An idle server is not trimmed again and again: nothing was freed since the last time.
 */
export class HeapTrimmer {
  private requestsAtLastSweep = 0;
  private requestsAtLastTrim = 0;
  private lastTrimAt: number;

  constructor(
    private readonly trim: () => boolean = trimHeap,
    now = Date.now(),
  ) {
    this.lastTrimAt = now;
  }

  /** Called every sweep with the total requests served so far; true if it trimmed. */
  onSweep(requests: number, now = Date.now()): boolean {
    const sinceSweep = requests - this.requestsAtLastSweep;
    this.requestsAtLastSweep = requests;
    if (requests === this.requestsAtLastTrim) return false;
    if (sinceSweep >= QUIET_REQUESTS && now - this.lastTrimAt < BUSY_TRIM_INTERVAL_MS) return false;
    this.requestsAtLastTrim = requests;
    this.lastTrimAt = now;
    this.trim();
    return true;
  }
}

/**
 * V8 lets its old generation grow to up to 4× what survived the last full collection before
 * collecting again; a server whose live heap is ~10 MB then carries 20–30 MB of garbage. A fixed
 * factor of 1.2 keeps the heap near its live size: 15–20 MB less resident with a long backlog,
 * for a few per cent more CPU per request while one is read back (docs/benchmarks.md). V8 reads
 * the flag at every collection, so setting it at start-up takes effect.
 */
export function limitHeapGrowth(): void {
  setFlagsFromString('--heap-growing-percent=20');
}
