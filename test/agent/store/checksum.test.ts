import { describe, expect, it } from 'vitest';
import { decodeChecked, decodeCheckedText, encodeChecked, keyPosition, positionKey } from '../../../agent/store/checksum.js';

describe('checksummed values', () => {
  it('round-trips a value', () => {
    const value = { a: 1, b: ['x', null], c: 'ü' };
    expect(decodeChecked(encodeChecked(value), 'test')).toEqual(value);
    expect(decodeCheckedText(encodeChecked(value), 'test')).toBe(JSON.stringify(value));
  });

  it('detects a flipped byte anywhere in the body', () => {
    const buf = encodeChecked({ reading: 42.5, point: 'temp' });
    for (let i = 4; i < buf.length; i++) {
      const damaged = Buffer.from(buf);
      damaged[i] = damaged[i]! ^ 0x01;
      expect(() => decodeChecked(damaged, 'journal 7'), `byte ${i}`).toThrow(/journal 7: record checksum mismatch/);
    }
  });

  it('detects truncation', () => {
    expect(() => decodeChecked(Buffer.from([1, 2]), 'x')).toThrow(/truncated/);
    const buf = encodeChecked('abc');
    expect(() => decodeChecked(buf.subarray(0, buf.length - 1), 'x')).toThrow(/checksum/);
  });

  it('position keys sort in numeric order', () => {
    const ns = [1, 9, 10, 99, 100, 123456789, 2 ** 40];
    const keys = ns.map(positionKey);
    expect([...keys].sort()).toEqual(keys);
    expect(keys.map(keyPosition)).toEqual(ns);
  });
});
