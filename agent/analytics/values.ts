import { parseIsoTime } from './iso-time.js';
import type { DatePart } from './time-units.js';

/**
 * Runtime values follow ASA's types: bigint and float are JS numbers, nvarchar is a string, bit
 * a boolean, datetime a Date (so JSON output is ISO 8601 UTC with milliseconds for free), record
 * an object, array an array. `undefined` (a missing field) behaves exactly like NULL.
 */

/** Epoch ms of a datetime-ish value: Date, epoch-ms number or ISO 8601 string (zone-less is UTC); NaN otherwise. */
export function toMillis(v: unknown): number {
  if (typeof v === 'number') return Number.isFinite(v) ? v : NaN;
  if (v instanceof Date) return v.getTime();
  if (typeof v === 'string') return parseIsoTime(v);
  return NaN;
}

export function toDate(v: unknown): Date | null {
  const ms = toMillis(v);
  return Number.isFinite(ms) ? new Date(ms) : null;
}

/** SQL ordering: numbers, datetimes, strings and bits compare within their kind; NULL and mixed kinds are unknown. */
export function compare(a: unknown, b: unknown): number | null {
  if (a == null || b == null) return null;
  if (typeof a === 'number' && typeof b === 'number') return a < b ? -1 : a > b ? 1 : a === b ? 0 : null;
  if (a instanceof Date || b instanceof Date) {
    const x = toMillis(a);
    const y = toMillis(b);
    if (Number.isNaN(x) || Number.isNaN(y)) return null;
    return x < y ? -1 : x > y ? 1 : 0;
  }
  if (typeof a === 'string' && typeof b === 'string') return a < b ? -1 : a > b ? 1 : 0;
  if (typeof a === 'boolean' && typeof b === 'boolean') return Number(a) - Number(b);
  if (typeof a === 'boolean' || typeof b === 'boolean') return compare(Number(a), Number(b));
  if (typeof a === 'string' || typeof b === 'string') {
    const x = Number(a);
    const y = Number(b);
    if (Number.isNaN(x) || Number.isNaN(y)) return null;
    return x < y ? -1 : x > y ? 1 : 0;
  }
  return null;
}

/** SQL truth: only TRUE passes a WHERE/HAVING; a non-zero number counts as true, as bit does. */
export function isTrue(v: unknown): boolean {
  return v === true || (typeof v === 'number' && v !== 0 && !Number.isNaN(v));
}

export function toBoolean(v: unknown): boolean | null {
  if (v == null) return null;
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number') return v !== 0;
  if (typeof v === 'string') {
    const s = v.toLowerCase();
    if (s === 'true' || s === '1') return true;
    if (s === 'false' || s === '0') return false;
  }
  return null;
}

export function toNumber(v: unknown): number | null {
  if (v == null) return null;
  if (typeof v === 'number') return Number.isNaN(v) ? null : v;
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'string' && v.trim() !== '') {
    const n = Number(v);
    return Number.isNaN(n) ? null : n;
  }
  return null;
}

export function castTo(v: unknown, type: string): unknown {
  if (v == null) return null;
  switch (type) {
    case 'bigint': {
      const n = v instanceof Date ? null : toNumber(v);
      return n === null || !Number.isFinite(n) ? undefined : Math.trunc(n);
    }
    case 'float': {
      const n = v instanceof Date ? null : toNumber(v);
      return n === null ? undefined : n;
    }
    case 'nvarchar(max)':
    case 'nvarchar':
    case 'varchar(max)':
      if (v instanceof Date) return v.toISOString();
      if (typeof v === 'object') return JSON.stringify(v);
      return String(v);
    case 'datetime':
      return toDate(v) ?? undefined;
    case 'bit': {
      const b = toBoolean(v);
      return b === null ? undefined : b;
    }
    case 'record':
      return typeof v === 'object' && !Array.isArray(v) && !(v instanceof Date) ? v : undefined;
    case 'array':
      return Array.isArray(v) ? v : undefined;
    default:
      return undefined;
  }
}

export const CAST_TYPES = new Set(['bigint', 'float', 'nvarchar(max)', 'nvarchar', 'varchar(max)', 'datetime', 'bit', 'record', 'array']);

const DAY = 86_400_000;

export function dateAdd(part: DatePart, n: number, ms: number): number {
  const k = Math.trunc(n);
  switch (part) {
    case 'year':
      return addMonths(ms, 12 * k);
    case 'quarter':
      return addMonths(ms, 3 * k);
    case 'month':
      return addMonths(ms, k);
    case 'dayofyear':
    case 'day':
    case 'weekday':
      return ms + k * DAY;
    case 'week':
      return ms + k * 7 * DAY;
    case 'hour':
      return ms + k * 3_600_000;
    case 'minute':
      return ms + k * 60_000;
    case 'second':
      return ms + k * 1000;
    case 'millisecond':
      return ms + k;
    case 'microsecond':
      return ms + Math.trunc(k / 1000);
    case 'nanosecond':
      return ms + Math.trunc(k / 1_000_000);
  }
}

/** Like SQL Server, adding months keeps the day but clamps it to the target month's last day. */
function addMonths(ms: number, months: number): number {
  const d = new Date(ms);
  const day = d.getUTCDate();
  const target = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + months, 1, d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds(), d.getUTCMilliseconds()));
  const last = new Date(Date.UTC(target.getUTCFullYear(), target.getUTCMonth() + 1, 0)).getUTCDate();
  target.setUTCDate(Math.min(day, last));
  return target.getTime();
}

/** Number of `part` boundaries crossed from a to b (SQL Server DATEDIFF semantics). */
export function dateDiff(part: DatePart, a: number, b: number): number {
  const da = new Date(a);
  const db = new Date(b);
  switch (part) {
    case 'year':
      return db.getUTCFullYear() - da.getUTCFullYear();
    case 'quarter':
      return db.getUTCFullYear() * 4 + Math.floor(db.getUTCMonth() / 3) - (da.getUTCFullYear() * 4 + Math.floor(da.getUTCMonth() / 3));
    case 'month':
      return db.getUTCFullYear() * 12 + db.getUTCMonth() - (da.getUTCFullYear() * 12 + da.getUTCMonth());
    case 'dayofyear':
    case 'day':
    case 'weekday':
      return Math.floor(b / DAY) - Math.floor(a / DAY);
    case 'week':
      // Weeks start on Sunday; 1970-01-01 was a Thursday, four days after one.
      return Math.floor((Math.floor(b / DAY) + 4) / 7) - Math.floor((Math.floor(a / DAY) + 4) / 7);
    case 'hour':
      return Math.floor(b / 3_600_000) - Math.floor(a / 3_600_000);
    case 'minute':
      return Math.floor(b / 60_000) - Math.floor(a / 60_000);
    case 'second':
      return Math.floor(b / 1000) - Math.floor(a / 1000);
    case 'millisecond':
      return b - a;
    case 'microsecond':
      return (b - a) * 1000;
    case 'nanosecond':
      return (b - a) * 1_000_000;
  }
}

export function datePartOf(part: DatePart, ms: number): number {
  const d = new Date(ms);
  switch (part) {
    case 'year':
      return d.getUTCFullYear();
    case 'quarter':
      return Math.floor(d.getUTCMonth() / 3) + 1;
    case 'month':
      return d.getUTCMonth() + 1;
    case 'dayofyear':
      return Math.floor((ms - Date.UTC(d.getUTCFullYear(), 0, 1)) / DAY) + 1;
    case 'day':
      return d.getUTCDate();
    case 'week': {
      const jan1 = new Date(Date.UTC(d.getUTCFullYear(), 0, 1));
      const doy = Math.floor((ms - jan1.getTime()) / DAY);
      return Math.floor((doy + jan1.getUTCDay()) / 7) + 1;
    }
    case 'weekday':
      return d.getUTCDay() + 1;
    case 'hour':
      return d.getUTCHours();
    case 'minute':
      return d.getUTCMinutes();
    case 'second':
      return d.getUTCSeconds();
    case 'millisecond':
      return d.getUTCMilliseconds();
    case 'microsecond':
      return d.getUTCMilliseconds() * 1000;
    case 'nanosecond':
      return d.getUTCMilliseconds() * 1_000_000;
  }
}
