import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodePoint, decodeValue, encodePoint, encodeValue, reorder, type PointLayout } from '../../../drivers/modbus/codec.js';

describe('register codec', () => {
  // 123456.0 as float32 is 0x47F12000: A=47 B=F1 C=20 D=00.
  const cases: Array<[string, string]> = [
    ['ABCD', '47f12000'],
    ['CDAB', '200047f1'],
    ['BADC', 'f1470020'],
    ['DCBA', '002000f1'.replace('002000f1', '0020f147')],
  ];
  it.each(cases)('decodes float32 in %s order', (order, hex) => {
    expect(decodeValue(Buffer.from(hex, 'hex'), 'float32', order as 'ABCD')).toBe(123456);
  });

  it('decodes the integer types and their signs', () => {
    expect(decodeValue(Buffer.from('ffff', 'hex'), 'int16')).toBe(-1);
    expect(decodeValue(Buffer.from('ffff', 'hex'), 'uint16')).toBe(65535);
    expect(decodeValue(Buffer.from('fffffffe', 'hex'), 'int32')).toBe(-2);
    expect(decodeValue(Buffer.from('0001' + '0000', 'hex'), 'uint32', 'CDAB')).toBe(1);
    expect(decodeValue(Buffer.from('0100', 'hex'), 'uint16', 'BADC')).toBe(1);
    expect(decodeValue(Buffer.from('0000', 'hex'), 'bool')).toBe(false);
    expect(decodeValue(Buffer.from('0002', 'hex'), 'bool')).toBe(true);
  });

  it('decodes strings, trimming padding, with optional byte swap', () => {
    expect(decodeValue(Buffer.from('PUMP-7\0\0', 'latin1'), 'string')).toBe('PUMP-7');
    expect(decodeValue(Buffer.from('UPPM7-', 'latin1'), 'string', 'BADC')).toBe('PUMP-7');
  });

  it('float64 word orders: 4 words reversed for CDAB/DCBA', () => {
    const abcd = encodeValue(Math.PI, 'float64', 'ABCD');
    expect(decodeValue(reorder(abcd, 'DCBA'), 'float64', 'DCBA')).toBe(Math.PI);
    expect(decodeValue(encodeValue(Math.E, 'float64', 'CDAB'), 'float64', 'CDAB')).toBe(Math.E);
  });

  it('encode and decode are inverse for every type and order', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('ABCD', 'CDAB', 'BADC', 'DCBA' as const),
        fc.oneof(
          fc.record({ type: fc.constant('int16' as const), v: fc.integer({ min: -32768, max: 32767 }) }),
          fc.record({ type: fc.constant('uint16' as const), v: fc.integer({ min: 0, max: 65535 }) }),
          fc.record({ type: fc.constant('int32' as const), v: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }) }),
          fc.record({ type: fc.constant('uint32' as const), v: fc.integer({ min: 0, max: 2 ** 32 - 1 }) }),
          fc.record({ type: fc.constant('float32' as const), v: fc.float({ noNaN: true }).map(Math.fround) }),
          fc.record({ type: fc.constant('float64' as const), v: fc.double({ noNaN: true }) }),
        ),
        (order, { type, v }) => {
          expect(decodeValue(encodeValue(v, type, order as 'ABCD'), type, order as 'ABCD')).toBe(v === 0 ? v : v);
        },
      ),
    );
  });

  it('encodePoint undoes decodePoint (scale and offset included) for every integer type and order', () => {
    const ranges = { int16: [-32768, 32767], uint16: [0, 65535], int32: [-(2 ** 31), 2 ** 31 - 1], uint32: [0, 2 ** 32 - 1] } as const;
    fc.assert(
      fc.property(
        fc.constantFrom('int16' as const, 'uint16' as const, 'int32' as const, 'uint32' as const),
        fc.constantFrom('ABCD' as const, 'CDAB' as const, 'BADC' as const, 'DCBA' as const),
        fc.constantFrom(1, 0.1, 0.5, -2, 10),
        fc.integer({ min: -1000, max: 1000 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (type, order, scale, offset, at) => {
          const [lo, hi] = ranges[type];
          const raw = Math.round(lo + (hi - lo) * at);
          const p: PointLayout = { type, order, count: type.endsWith('16') ? 1 : 2, scale, offset };
          const wire = encodeValue(raw, type, order);
          const value = decodePoint(wire, p) as number;
          const back = encodePoint(value, p);
          expect(back.ok && back.raw).toBe(raw);
          expect(back.ok && back.wire.equals(wire)).toBe(true);
        },
      ),
    );
  });

  it('encodePoint refuses what the registers cannot hold instead of clamping', () => {
    const p = (type: PointLayout['type'], extra: Partial<PointLayout> = {}): PointLayout => ({ type, order: 'ABCD', count: type === 'string' ? 2 : 1, scale: 1, offset: 0, ...extra });
    expect(encodePoint(70000, p('uint16'))).toMatchObject({ ok: false, reason: expect.stringContaining('outside uint16') });
    expect(encodePoint(40, p('int16', { scale: 0.001 }))).toMatchObject({ ok: false, reason: expect.stringContaining('raw 40000') });
    expect(encodePoint(1e39, p('float32', { count: 2 }))).toMatchObject({ ok: false, reason: expect.stringContaining('float32') });
    expect(encodePoint(Number.NaN, p('float64', { count: 4 }))).toMatchObject({ ok: false });
    expect(encodePoint('TOO-LONG', p('string'))).toMatchObject({ ok: false, reason: expect.stringContaining('holds 4') });
    expect(encodePoint('é\u2603', p('string'))).toMatchObject({ ok: false, reason: expect.stringContaining('Latin-1') });
    expect(encodePoint(2, p('bool'))).toMatchObject({ ok: false });
    expect(encodePoint(21.56, p('int16', { scale: 0.1 }))).toMatchObject({ ok: true, raw: 216 }); // rounded to the device's resolution
  });
});
