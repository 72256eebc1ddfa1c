/**
 * ISO 8601 date-times as ASA reads them, in UTC: a string without a zone is UTC (never the
 * host's zone, which `Date.parse` would use), and only ISO 8601 is a time — `Date.parse` also
 * takes 'sensor 3' or 'room 12' and makes years of them.
 *
 * Accepted: `YYYY-MM-DD`, optionally followed by `T` (or a space) and `hh:mm`, `hh:mm:ss` or
 * `hh:mm:ss.fraction` (any number of digits, truncated to milliseconds), optionally followed by
 * `Z` or an offset `±hh:mm`, `±hhmm`, `±hh`. Returns epoch ms, or NaN when the text is not such a time.
 */
export function parseIsoTime(s: string): number {
  const n = s.length;
  if (n < 10 || n > 40) return NaN;
  const year = digits(s, 0, 4);
  if (year < 0 || s.charCodeAt(4) !== DASH) return NaN;
  const month = digits(s, 5, 2);
  if (month < 1 || month > 12 || s.charCodeAt(7) !== DASH) return NaN;
  const day = digits(s, 8, 2);
  if (day < 1 || day > daysIn(year, month)) return NaN;
  if (n === 10) return utc(year, month, day, 0, 0, 0, 0);
  const sep = s.charCodeAt(10);
  if (sep !== T && sep !== LOWER_T && sep !== SPACE) return NaN;
  const hour = digits(s, 11, 2);
  if (hour < 0 || hour > 23 || s.charCodeAt(13) !== COLON) return NaN;
  const minute = digits(s, 14, 2);
  if (minute < 0 || minute > 59) return NaN;
  let i = 16;
  let second = 0;
  let ms = 0;
  if (s.charCodeAt(i) === COLON) {
    second = digits(s, 17, 2);
    if (second < 0 || second > 59) return NaN;
    i = 19;
    if (s.charCodeAt(i) === DOT || s.charCodeAt(i) === COMMA) {
      i++;
      const from = i;
      let scale = 100;
      while (i < n && isDigit(s.charCodeAt(i))) {
        ms += (s.charCodeAt(i) - ZERO) * scale;
        scale /= 10;
        i++;
      }
      if (i === from) return NaN;
      ms = Math.floor(ms);
    }
  }
  let offsetMin = 0;
  if (i < n) {
    const z = s.charCodeAt(i);
    if (z === Z || z === LOWER_Z) {
      i++;
    } else if (z === PLUS || z === DASH) {
      const oh = digits(s, i + 1, 2);
      if (oh < 0 || oh > 23) return NaN;
      i += 3;
      let om = 0;
      if (i < n) {
        if (s.charCodeAt(i) === COLON) i++;
        om = digits(s, i, 2);
        if (om < 0 || om > 59) return NaN;
        i += 2;
      }
      offsetMin = (z === PLUS ? 1 : -1) * (oh * 60 + om);
    } else {
      return NaN;
    }
  }
  if (i !== n) return NaN;
  return utc(year, month, day, hour, minute, second, ms) - offsetMin * 60_000;
}

/** Date.UTC, except that years 0–99 stay themselves (Date.UTC reads them as 1900–1999). */
function utc(year: number, month: number, day: number, h: number, mi: number, s: number, ms: number): number {
  const t = Date.UTC(year, month - 1, day, h, mi, s, ms);
  if (year >= 100) return t;
  const d = new Date(t);
  d.setUTCFullYear(year);
  return d.getTime();
}

const ZERO = 48;
const DASH = 45;
const PLUS = 43;
const COLON = 58;
const DOT = 46;
const COMMA = 44;
const SPACE = 32;
const T = 84;
const LOWER_T = 116;
const Z = 90;
const LOWER_Z = 122;

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/** The value of `len` decimal digits at `at`, or -1 when any of them is not a digit. */
function digits(s: string, at: number, len: number): number {
  let v = 0;
  for (let k = at; k < at + len; k++) {
    const c = s.charCodeAt(k);
    if (!(c >= 48 && c <= 57)) return -1;
    v = v * 10 + (c - ZERO);
  }
  return v;
}

function daysIn(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}
