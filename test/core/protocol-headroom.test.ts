// The headroom a framing reserves in front of a value is the store's record header: the store
// writes the header into exactly those bytes and the payload is never copied again.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { RECORD_HEADER, RECORD_HEADROOM, decodeRecord, writeRecordHeader } from '../../src/store/layout.js';
import { TextFraming } from '../../src/protocol/text.js';

/** A record as a framing leaves it: `fill` in the headroom, then the payload. */
function framed(payload: Buffer, fill: number): Buffer {
  const record = Buffer.alloc(RECORD_HEADROOM + payload.length, fill);
  payload.copy(record, RECORD_HEADROOM);
  return record;
}

describe('record headroom', () => {
  it('is exactly the header the store writes', () => {
    expect(RECORD_HEADROOM).toBe(RECORD_HEADER);
    const payload = Buffer.from('payload bytes');
    // Two different fills: a byte the header writer leaves alone would differ between them.
    const a = framed(payload, 0x00);
    const b = framed(payload, 0xff);
    writeRecordHeader(a, 7, 1000, 2000);
    writeRecordHeader(b, 7, 1000, 2000);
    expect(a.equals(b)).toBe(true);
    expect(a.subarray(RECORD_HEADROOM).equals(payload)).toBe(true);
    const item = decodeRecord(1, a);
    expect(item.damaged).toBeUndefined();
    expect(item).toMatchObject({ flags: 7, addTime: 1000, expiry: 2000 });
    expect(item.data.equals(payload)).toBe(true);
  });

  it('is what a framing reserves in front of a value it reads', () => {
    const framing = new TextFraming({ maxItemSize: 1024 });
    framing.push(Buffer.from('set q 0 0 5\r\nhello\r\n'));
    const command = framing.next();
    expect(command?.kind).toBe('set');
    const record = command?.kind === 'set' ? command.record : Buffer.alloc(0);
    expect(record.length).toBe(RECORD_HEADROOM + 5);
    expect(record.subarray(RECORD_HEADROOM).toString()).toBe('hello');
  });

  it('belongs to the store: its layout imports nothing from the protocol layer', () => {
    const source = readFileSync(new URL('../../src/store/layout.ts', import.meta.url), 'utf8');
    expect(source).not.toMatch(/from '\.\.\/protocol\//);
  });
});
