import type { PointValue } from '../../agent/core/reading.js';
import { frameError } from '../errors.js';

/** One line turned into named values, and the device's own timestamp if it sent one. */
export interface ParsedLine {
  values: Record<string, PointValue>;
  /** Epoch ms as stamped by the device (before the configured clock offset). */
  deviceTime?: number;
}

/** A line left out on purpose, and under what name it is counted (an NMEA address: `GPGSV`). */
export interface SkippedLine {
  skipped: string;
  because: string;
}

/**
 * A line parser. `parse` throws a `DeviceError` (`EDGE_DEVICE_FRAME` for a malformed line,
 * `EDGE_DEVICE_CRC` for a failed checksum), returns `undefined` for a line it ignores on
 * purpose (a header row), or a {@link SkippedLine} for one the health should count (another
 * NMEA sentence). `points` lists the names it can produce, so a bad line becomes a bad reading
 * for each of them.
 */
export interface LineParser {
  readonly points: readonly string[];
  parse(line: string): ParsedLine | SkippedLine | undefined;
}

export type FieldType = 'number' | 'string' | 'bool';

/** Converts one field; throws a frame error naming `what` when it does not fit the type. */
export function convert(raw: string, type: FieldType, what: string): PointValue {
  const s = raw.trim();
  if (type === 'string') return s;
  if (type === 'bool') {
    if (/^(1|true|on|yes)$/i.test(s)) return true;
    if (/^(0|false|off|no)$/i.test(s)) return false;
    throw frameError(`${what}: '${raw}' is not a boolean`);
  }
  if (s === '') return null;
  const n = Number(s);
  if (!Number.isFinite(n)) throw frameError(`${what}: '${raw}' is not a number`);
  return n;
}

export type TimeFormat = 'iso' | 'epoch-ms' | 'epoch-s';

export function parseTime(raw: string, format: TimeFormat, what: string): number {
  const s = raw.trim();
  const t = format === 'iso' ? Date.parse(s) : format === 'epoch-ms' ? Number(s) : Number(s) * 1000;
  if (!Number.isFinite(t) || s === '') throw frameError(`${what}: '${raw}' is not a ${format} timestamp`);
  return t;
}
