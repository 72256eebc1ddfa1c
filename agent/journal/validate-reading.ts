import { EdgeError } from '../core/errors.js';
import type { Reading } from '../core/reading.js';

/** Bounds a reading must keep to be journaled, forwarded and stored by the reconciler. */
export const READING_LIMITS = {
  /** source and point names, in UTF-8 bytes. */
  nameBytes: 256,
  unitBytes: 64,
  errorCodeBytes: 64,
  errorMessageBytes: 2048,
  /**
   * The whole reading as JSON: it must fit one hub message with room to spare (a message is at
   * most 256 KB, 64 KB by default) so that it can never become a message that cannot be sent.
   */
  encodedBytes: 64 * 1024,
} as const;

/** The range of a JavaScript Date, in epoch ms: anything outside is no instant at all. */
const MAX_TIME = 8.64e15;
/**
 * What the stamp adds to a reading's JSON, at most (`,"appTime":-8640000000000000,"arrivalTime":…`,
 * and the driver's name, recorded only up to the name bound):
 * a reading checked before stamping is held to the bound it will have once stamped, so the
 * journal never refuses what the intake let through.
 */
export const STAMP_BYTES = 64 + 12 + READING_LIMITS.nameBytes;

/**
 * Why `r` may not enter the journal, or undefined when it may. The reasons are a fixed set of
 * phrases (no values in them), so a caller can count and log them per distinct reason.
 */
export function readingProblem(r: unknown): string | undefined {
  if (typeof r !== 'object' || r === null || Array.isArray(r)) return 'not an object';
  const x = r as Record<string, unknown>;
  const name = nameProblem(x.source, 'source') ?? nameProblem(x.point, 'point');
  if (name) return name;
  if (x.quality !== 'good' && x.quality !== 'bad') return "quality is not 'good' or 'bad'";
  const value = valueProblem(x.value);
  if (value) return value;
  if (!isTime(x.receivedAt)) return 'receivedAt is not a finite epoch ms';
  if (x.deviceTime !== undefined && !isTime(x.deviceTime)) return 'deviceTime is not a finite epoch ms';
  if (x.unit !== undefined && !boundedString(x.unit, READING_LIMITS.unitBytes)) return `unit is not a string of at most ${READING_LIMITS.unitBytes} bytes`;
  if (x.error !== undefined) {
    const e = x.error as Record<string, unknown> | null;
    if (typeof e !== 'object' || e === null) return 'error is not an object';
    if (!boundedString(e.code, READING_LIMITS.errorCodeBytes) || e.code === '') return `error.code is not a non-empty string of at most ${READING_LIMITS.errorCodeBytes} bytes`;
    if (!boundedString(e.message, READING_LIMITS.errorMessageBytes)) return `error.message is not a string of at most ${READING_LIMITS.errorMessageBytes} bytes`;
  }
  // Most readings are small and of known fields only: their JSON is then bounded by the field
  // bounds above, so the whole-reading bound holds without encoding it (which the journal does
  // anyway, once).
  if (boundedByFields(x)) return undefined;
  let encoded: string | undefined;
  try {
    encoded = JSON.stringify(r);
  } catch {
    return 'cannot be encoded as JSON';
  }
  const stamp = x.appTime === undefined ? STAMP_BYTES : 0;
  if (encoded === undefined || Buffer.byteLength(encoded) + stamp > READING_LIMITS.encodedBytes) return `encodes to more than ${READING_LIMITS.encodedBytes} bytes`;
  return undefined;
}

/** The journal's refusal: names the driver, the point and the reason. */
export function invalidReading(driver: string, r: unknown, problem: string, count = 1): EdgeError {
  const x = (typeof r === 'object' && r !== null ? r : {}) as Record<string, unknown>;
  const where = `${printable(x.source)}/${printable(x.point)}`;
  const more = count > 1 ? ` (and ${count - 1} more in the same batch)` : '';
  return new EdgeError('EDGE_READING_INVALID', `driver ${driver}: reading ${where} refused: ${problem}${more}`);
}

/** Throws EDGE_READING_INVALID for the first reading of `readings` that may not be journaled. */
export function assertReadings(readings: readonly Reading[], driver: string): void {
  for (const r of readings) {
    const problem = readingProblem(r);
    if (problem !== undefined) throw invalidReading(driver, r, problem);
  }
}

function nameProblem(v: unknown, field: 'source' | 'point'): string | undefined {
  if (typeof v !== 'string' || v.length === 0) return `${field} is not a non-empty string`;
  if (!boundedString(v, READING_LIMITS.nameBytes)) return `${field} is longer than ${READING_LIMITS.nameBytes} bytes`;
  return undefined;
}

const READING_KEYS = new Set(['source', 'point', 'value', 'quality', 'error', 'unit', 'receivedAt', 'deviceTime', 'appTime', 'arrivalTime', 'driver']);
/** A string value up to this many UTF-16 units keeps a reading of known fields far under the bound. */
const SHORT_VALUE = 4096;

/**
 * True when a reading already checked field by field cannot encode past the bound: only known
 * keys, a name-bounded driver, and no long string value. JSON escapes a character into at most 6
 * bytes, so the fields' bounds (names 2 × 256, unit 64, error 64 + 2,048, a short value 4,096
 * units ≤ 12 KB, the stamp) come to well under 64 KB.
 */
function boundedByFields(x: Record<string, unknown>): boolean {
  if (typeof x.value === 'string' && x.value.length > SHORT_VALUE) return false;
  if (x.driver !== undefined && !boundedString(x.driver, READING_LIMITS.nameBytes)) return false;
  if (x.appTime !== undefined && typeof x.appTime !== 'number') return false;
  if (x.arrivalTime !== undefined && typeof x.arrivalTime !== 'number') return false;
  for (const k in x) if (!READING_KEYS.has(k)) return false;
  return true;
}

function valueProblem(v: unknown): string | undefined {
  if (v === null || typeof v === 'boolean' || typeof v === 'string') return undefined;
  if (typeof v === 'number') return Number.isFinite(v) ? undefined : 'value is not a finite number';
  return v === undefined ? 'value is missing' : `value has type ${Array.isArray(v) ? 'array' : typeof v}, not number, boolean, string or null`;
}

function isTime(v: unknown): boolean {
  return typeof v === 'number' && Number.isFinite(v) && Math.abs(v) <= MAX_TIME;
}

/** Bytes are counted only when the length in UTF-16 units could exceed the bound. */
function boundedString(v: unknown, maxBytes: number): boolean {
  if (typeof v !== 'string') return false;
  return v.length * 3 <= maxBytes || Buffer.byteLength(v) <= maxBytes;
}

/** A name as it may appear in a log line: bounded, and a non-string said as such. */
function printable(v: unknown): string {
  if (typeof v !== 'string') return `<${v === null ? 'null' : typeof v}>`;
  if (v === '') return '<empty>';
  return v.length > 64 ? `${v.slice(0, 64)}…` : v;
}
