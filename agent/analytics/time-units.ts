/**
 * ASA's time units. Windows accept day…microsecond; DATEADD/DATEDIFF/DATEPART accept the wider
 * SQL Server date parts. Our clock is milliseconds, so a microsecond window size must be a whole
 * number of milliseconds.
 */
export type WindowUnit = 'day' | 'hour' | 'minute' | 'second' | 'millisecond' | 'microsecond';

const WINDOW_UNITS: Record<string, WindowUnit> = {
  day: 'day', dd: 'day', d: 'day',
  hour: 'hour', hh: 'hour',
  minute: 'minute', mi: 'minute', n: 'minute',
  second: 'second', ss: 'second', s: 'second',
  millisecond: 'millisecond', ms: 'millisecond',
  microsecond: 'microsecond', mcs: 'microsecond',
};

/** Microseconds per unit, so that microsecond sizes can be checked for whole milliseconds. */
const MICROS: Record<WindowUnit, number> = {
  day: 86_400_000_000,
  hour: 3_600_000_000,
  minute: 60_000_000,
  second: 1_000_000,
  millisecond: 1_000,
  microsecond: 1,
};

export function windowUnit(word: string): WindowUnit | undefined {
  return WINDOW_UNITS[word.toLowerCase()];
}

/** Duration in ms, or undefined when it is not a whole number of milliseconds. */
export function windowMillis(unit: WindowUnit, size: number): number | undefined {
  const micros = MICROS[unit] * size;
  return micros % 1000 === 0 ? micros / 1000 : undefined;
}

export type DatePart =
  | 'year' | 'quarter' | 'month' | 'dayofyear' | 'day' | 'week' | 'weekday'
  | 'hour' | 'minute' | 'second' | 'millisecond' | 'microsecond' | 'nanosecond';

const DATE_PARTS: Record<string, DatePart> = {
  year: 'year', yy: 'year', yyyy: 'year',
  quarter: 'quarter', qq: 'quarter', q: 'quarter',
  month: 'month', mm: 'month', m: 'month',
  dayofyear: 'dayofyear', dy: 'dayofyear', y: 'dayofyear',
  day: 'day', dd: 'day', d: 'day',
  week: 'week', wk: 'week', ww: 'week',
  weekday: 'weekday', dw: 'weekday', w: 'weekday',
  hour: 'hour', hh: 'hour',
  minute: 'minute', mi: 'minute', n: 'minute',
  second: 'second', ss: 'second', s: 'second',
  millisecond: 'millisecond', ms: 'millisecond',
  microsecond: 'microsecond', mcs: 'microsecond',
  nanosecond: 'nanosecond', ns: 'nanosecond',
};

export function datePart(word: string): DatePart | undefined {
  return DATE_PARTS[word.toLowerCase()];
}
