// Records of items held in memory for long, moved into slabs of their own. A small record is a
// slice of a buffer it shares with whatever was allocated around it (Node's 8 KiB pool: keys,
// metas, replies), and one live slice keeps the whole buffer resident: 100,000 queues holding one
// 64-byte item each kept 94 MB of such buffers for 6.4 MB of values. The sweep moves the records
// of items still in a head window into packed slabs, so what stays resident is about what is
// held. Items consumed before the sweep sees them (nearly all, under load) are never copied.
import { type Item, RECORD_HEADER } from './store/layout.js';

/** Bytes of one packed slab: small, so a slab is freed soon once most of its items are consumed. */
const SLAB_BYTES = 16 * 1024;
/** Slabs made here, whose records are packed already. */
const packedSlabs = new WeakSet<ArrayBufferLike>();
let slab: Buffer | null = null;
let used = 0;

/**
 * Moves `item`'s record (header and data: recordOf() reads the header in front of the data) into
 * a packed slab if it shares a larger buffer; true if moved. The bytes are unchanged, so readers
 * holding the old view are unaffected.
 */
export function packRecord(item: Item): boolean {
  const data = item.data;
  const size = RECORD_HEADER + data.length;
  // (No header in front: not a record's data, e.g. a damaged one, which is never held.)
  if (data.byteOffset < RECORD_HEADER || data.buffer.byteLength <= size || packedSlabs.has(data.buffer)) return false;
  // A record this large has a buffer of its own from Node (only small ones are pooled) unless
  // it arrived in a shared one: give it one of its own too.
  if (size > SLAB_BYTES / 4) {
    const own = Buffer.allocUnsafeSlow(size);
    own.set(new Uint8Array(data.buffer, data.byteOffset - RECORD_HEADER, size));
    item.data = own.subarray(RECORD_HEADER);
    return true;
  }
  if (slab === null || used + size > SLAB_BYTES) {
    slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
    packedSlabs.add(slab.buffer);
    used = 0;
  }
  slab.set(new Uint8Array(data.buffer, data.byteOffset - RECORD_HEADER, size), used);
  item.data = slab.subarray(used + RECORD_HEADER, used + size);
  used += size;
  return true;
}
