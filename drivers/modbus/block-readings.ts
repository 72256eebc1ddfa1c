import type { Reading } from '../../agent/core/reading.js';
import type { PointConfig } from '../config.js';
import { decodePoint } from './codec.js';
import { isBitTable, unpackBits } from './pdu.js';
import type { ReadBlock } from './planner.js';

/** Turns the data of one block read into one good reading per point. */
export function blockReadings(source: string, block: ReadBlock<PointConfig>, data: Buffer, receivedAt: number): Reading[] {
  const bits = isBitTable(block.table) ? unpackBits(data, block.count) : undefined;
  return block.points.map((p) => {
    const rel = p.address - block.address;
    let value: number | boolean | string;
    if (bits) {
      value = bits[rel]!;
    } else {
      value = decodePoint(data.subarray(rel * 2, (rel + p.count) * 2), p);
    }
    const r: Reading = { source, point: p.name, value, quality: 'good', receivedAt };
    if (p.unit !== undefined) r.unit = p.unit;
    return r;
  });
}

/** One bad reading per point, carrying the error's stable code and message. */
export function badReadings(source: string, points: readonly PointConfig[], error: { code: string; message: string }, receivedAt: number): Reading[] {
  return points.map((p) => {
    const r: Reading = { source, point: p.name, value: null, quality: 'bad', error: { code: error.code, message: error.message }, receivedAt };
    if (p.unit !== undefined) r.unit = p.unit;
    return r;
  });
}
