/**
 * Register decoding by type and byte/word order. Registers arrive big-endian on the wire
 * (bytes A B of the first register, C D of the second, …). The order names where those bytes
 * sit in the value, most significant first:
 *
 * - `ABCD` big-endian words, big-endian bytes (the Modbus default)
 * - `CDAB` word-swapped (common on PLCs with little-endian 32-bit values)
 * - `BADC` byte-swapped within each word
 * - `DCBA` fully little-endian
 *
 * For 64-bit values the same rule is applied to four words; for 16-bit values only the byte
 * swap (`BADC`, `DCBA`) has an effect.
 */
export type ValueType = 'bool' | 'int16' | 'uint16' | 'int32' | 'uint32' | 'float32' | 'float64' | 'string';
export type WordOrder = 'ABCD' | 'CDAB' | 'BADC' | 'DCBA';

export const VALUE_TYPES: readonly ValueType[] = ['bool', 'int16', 'uint16', 'int32', 'uint32', 'float32', 'float64', 'string'];
export const WORD_ORDERS: readonly WordOrder[] = ['ABCD', 'CDAB', 'BADC', 'DCBA'];

/** Registers a value of this type occupies (`string`: as given by its register count). */
export function registerCount(type: ValueType, stringRegisters = 1): number {
  switch (type) {
    case 'bool':
    case 'int16':
    case 'uint16':
      return 1;
    case 'int32':
    case 'uint32':
    case 'float32':
      return 2;
    case 'float64':
      return 4;
    case 'string':
      return stringRegisters;
  }
}

/** Reorders wire bytes into big-endian value bytes (the operation is its own inverse). */
export function reorder(wire: Uint8Array, order: WordOrder): Buffer {
  const words = wire.length >> 1;
  const out = Buffer.alloc(words * 2);
  const swapWords = order === 'CDAB' || order === 'DCBA';
  const swapBytes = order === 'BADC' || order === 'DCBA';
  for (let w = 0; w < words; w++) {
    const src = swapWords ? words - 1 - w : w;
    const hi = wire[src * 2]!;
    const lo = wire[src * 2 + 1]!;
    out[w * 2] = swapBytes ? lo : hi;
    out[w * 2 + 1] = swapBytes ? hi : lo;
  }
  return out;
}

/** Decodes one value from its registers' wire bytes. */
export function decodeValue(wire: Uint8Array, type: ValueType, order: WordOrder = 'ABCD'): number | boolean | string {
  if (type === 'string') {
    // Strings are byte sequences; only the byte swap within words applies.
    const swapped = order === 'BADC' || order === 'DCBA' ? reorder(wire, 'BADC') : Buffer.from(wire);
    return swapped.toString('latin1').replace(/[\0 ]+$/, '');
  }
  const b = reorder(wire, type === 'bool' || type === 'int16' || type === 'uint16' ? (order === 'BADC' || order === 'DCBA' ? 'BADC' : 'ABCD') : order);
  switch (type) {
    case 'bool':
      return b.readUInt16BE(0) !== 0;
    case 'int16':
      return b.readInt16BE(0);
    case 'uint16':
      return b.readUInt16BE(0);
    case 'int32':
      return b.readInt32BE(0);
    case 'uint32':
      return b.readUInt32BE(0);
    case 'float32':
      return b.readFloatBE(0);
    case 'float64':
      return b.readDoubleBE(0);
  }
}

/** Encodes one value into wire bytes (the simulators' side of `decodeValue`). */
export function encodeValue(value: number | boolean | string, type: ValueType, order: WordOrder = 'ABCD', stringRegisters = 1): Buffer {
  const n = registerCount(type, stringRegisters);
  const b = Buffer.alloc(n * 2);
  const num = typeof value === 'number' ? value : typeof value === 'boolean' ? Number(value) : Number(value);
  switch (type) {
    case 'string': {
      b.write(String(value), 'latin1');
      return order === 'BADC' || order === 'DCBA' ? reorder(b, 'BADC') : b;
    }
    case 'bool':
      b.writeUInt16BE(value ? 1 : 0, 0);
      break;
    case 'int16':
      b.writeInt16BE(clampInt(num, -0x8000, 0x7fff), 0);
      break;
    case 'uint16':
      b.writeUInt16BE(clampInt(num, 0, 0xffff), 0);
      break;
    case 'int32':
      b.writeInt32BE(clampInt(num, -0x80000000, 0x7fffffff), 0);
      break;
    case 'uint32':
      b.writeUInt32BE(clampInt(num, 0, 0xffffffff), 0);
      break;
    case 'float32':
      b.writeFloatBE(num, 0);
      break;
    case 'float64':
      b.writeDoubleBE(num, 0);
      break;
  }
  const single = n === 1 ? (order === 'BADC' || order === 'DCBA' ? 'BADC' : 'ABCD') : order;
  return reorder(b, single);
}

function clampInt(v: number, min: number, max: number): number {
  if (!Number.isFinite(v)) return 0;
  return Math.min(max, Math.max(min, Math.round(v)));
}

/** What the codec needs of a configured point: its layout and its linear scaling. */
export interface PointLayout {
  type: ValueType;
  order: WordOrder;
  /** Registers the value spans. */
  count: number;
  scale: number;
  offset: number;
}

/** Registers' wire bytes → engineering value: raw × scale + offset (numbers only). */
export function decodePoint(wire: Uint8Array, p: PointLayout): number | boolean | string {
  const raw = decodeValue(wire, p.type, p.order);
  return typeof raw === 'number' && (p.scale !== 1 || p.offset !== 0) ? raw * p.scale + p.offset : raw;
}

export type EncodedPoint = { ok: true; wire: Buffer; raw: number | boolean | string } | { ok: false; reason: string };

const INT_RANGE: Partial<Record<ValueType, [number, number]>> = {
  int16: [-0x8000, 0x7fff],
  uint16: [0, 0xffff],
  int32: [-0x80000000, 0x7fffffff],
  uint32: [0, 0xffffffff],
};
const FLOAT32_MAX = 3.4028234663852886e38;

/**
 * Engineering value → wire bytes, the inverse of `decodePoint`: (value − offset) / scale, then
 * the type and order. Unlike `encodeValue` (which a simulator may clamp), a value the registers
 * cannot hold is refused with a reason, never clamped: a setpoint must not silently change.
 * Integers are rounded to the nearest raw step (the device's resolution); the caller reports
 * what was actually written.
 */
export function encodePoint(value: unknown, p: PointLayout): EncodedPoint {
  if (p.type === 'string') {
    if (typeof value !== 'string') return { ok: false, reason: `a string point takes a string, not ${JSON.stringify(value)}` };
    if (!/^[\x20-\x7e\xa0-\xff]*$/.test(value)) return { ok: false, reason: 'a string point takes printable Latin-1 characters only' };
    if (value.length > p.count * 2) return { ok: false, reason: `"${value}" is ${value.length} characters; the point holds ${p.count * 2}` };
    return { ok: true, wire: encodeValue(value, 'string', p.order, p.count), raw: value };
  }
  if (p.type === 'bool') {
    const b = typeof value === 'boolean' ? value : value === 0 || value === 1 ? value === 1 : undefined;
    if (b === undefined) return { ok: false, reason: `a bool point takes true/false (or 1/0), not ${JSON.stringify(value)}` };
    return { ok: true, wire: encodeValue(b, 'bool', p.order), raw: b };
  }
  if (typeof value !== 'number' || !Number.isFinite(value)) return { ok: false, reason: `a ${p.type} point takes a finite number, not ${JSON.stringify(value)}` };
  const exact = (value - p.offset) / p.scale;
  const range = INT_RANGE[p.type];
  if (range) {
    const raw = Math.round(exact) + 0; // + 0: no -0 in an answer
    if (raw < range[0] || raw > range[1]) return { ok: false, reason: `${value} is raw ${raw} after scale ${p.scale} and offset ${p.offset}, outside ${p.type} (${range[0]}..${range[1]})` };
    return { ok: true, wire: encodeValue(raw, p.type, p.order), raw };
  }
  if (p.type === 'float32' && Math.abs(exact) > FLOAT32_MAX) return { ok: false, reason: `${value} does not fit a float32` };
  const raw = p.type === 'float32' ? Math.fround(exact) : exact;
  return { ok: true, wire: encodeValue(raw, p.type, p.order), raw };
}
