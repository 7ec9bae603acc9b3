// The pieces of the binary framing on their own: the received-bytes list (chunk boundaries,
// skipping bodies that have not arrived) and the opcode table.
import { describe, expect, it } from 'vitest';
import { ReceivedBytes } from '../../src/protocol/receivedBytes.js';
import { opcodeRule } from '../../src/protocol/binaryRequests.js';
import { Opcode } from '../../src/protocol/binaryWire.js';

/** `bytes` pushed as chunks of `size` bytes. */
function chunked(bytes: Buffer, size: number, into = new ReceivedBytes(16)): ReceivedBytes {
  for (let at = 0; at < bytes.length; at += size) into.push(bytes.subarray(at, at + size));
  return into;
}

describe('ReceivedBytes', () => {
  it('reads a run that spans chunks through its scratch copy, in place otherwise', () => {
    const input = chunked(Buffer.from('abcdefghij'), 3);
    expect(input.length).toBe(10);
    expect(input.firstByte()).toBe(0x61);
    const inPlace = input.peek(2);
    expect(inPlace.toString('latin1', input.peekAt, input.peekAt + 2)).toBe('ab');
    expect(input.readLatin1(5)).toBe('abcde');
    expect(input.length).toBe(5);
    const target = Buffer.alloc(7, 0x2e);
    input.readInto(target, 2, 5);
    expect(target.toString()).toBe('..fghij');
    expect(input.length).toBe(0);
  });

  it('skips a body as it arrives when only part of it is buffered', () => {
    const input = chunked(Buffer.from('0123'), 2);
    input.discard(10); // 4 buffered, 6 still to come
    expect(input.length).toBe(0);
    input.push(Buffer.from('4567'));
    expect(input.length).toBe(0);
    input.push(Buffer.from('89next'));
    expect(input.length).toBe(4);
    expect(input.readLatin1(4)).toBe('next');
  });

  it('stays correct across many small chunks (the spent head of the list is dropped)', () => {
    const text = Array.from({ length: 500 }, (_, i) => String.fromCharCode(0x41 + (i % 26))).join('');
    const input = chunked(Buffer.from(text), 1);
    let read = '';
    while (input.length > 0) read += input.readLatin1(Math.min(7, input.length));
    expect(read).toBe(text);
  });

  it('clear() forgets buffered bytes and a pending skip', () => {
    const input = chunked(Buffer.from('abc'), 1);
    input.discard(5);
    input.clear();
    input.push(Buffer.from('xy'));
    expect(input.readLatin1(2)).toBe('xy');
  });
});

describe('opcode table', () => {
  it('has a rule for every opcode it names, and none for others', () => {
    for (const opcode of Object.values(Opcode)) expect(opcodeRule(opcode), `opcode ${opcode}`).toBeDefined();
    expect(opcodeRule(0x02)).toBeUndefined(); // ADD: not served
    expect(opcodeRule(0xff)).toBeUndefined();
  });

  it('checks lengths by opcode', () => {
    expect(opcodeRule(Opcode.GET)!.problem(1, 0, 0)).toBeNull();
    expect(opcodeRule(Opcode.GET)!.problem(0, 0, 0)).toBe('missing key');
    expect(opcodeRule(Opcode.SET)!.problem(1, 4, 3)).toBe('bad extras length');
    expect(opcodeRule(Opcode.FLUSH)!.problem(0, 4, 0)).toBeNull();
    expect(opcodeRule(Opcode.NOOP)!.problem(0, 0, 1)).toBe('unexpected body');
    expect(opcodeRule(Opcode.SASL_AUTH)!.problem(5, 0, 2000)).toBe('SASL data too long');
  });
});
