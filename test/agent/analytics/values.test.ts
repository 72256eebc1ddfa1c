import { describe, expect, it } from 'vitest';
import { datePart } from '../../../agent/analytics/time-units.js';
import { castTo, compare, dateAdd, dateDiff, datePartOf } from '../../../agent/analytics/values.js';

const t = (s: string) => Date.parse(s);
const part = (p: string) => datePart(p)!;

describe('ASA date functions (SQL Server semantics, UTC)', () => {
  it.each([
    ['month', 1, '2026-01-31T10:00:00Z', '2026-02-28T10:00:00Z'],
    ['mm', -1, '2026-03-31T00:00:00Z', '2026-02-28T00:00:00Z'],
    ['yyyy', 1, '2028-02-29T00:00:00Z', '2029-02-28T00:00:00Z'],
    ['qq', 1, '2026-01-15T00:00:00Z', '2026-04-15T00:00:00Z'],
    ['wk', 2, '2026-01-01T00:00:00Z', '2026-01-15T00:00:00Z'],
    ['d', -1, '2026-01-01T00:00:00Z', '2025-12-31T00:00:00Z'],
    ['hh', 25, '2026-01-01T00:00:00Z', '2026-01-02T01:00:00Z'],
    ['n', 90, '2026-01-01T00:00:00Z', '2026-01-01T01:30:00Z'],
    ['s', -5, '2026-01-01T00:00:00Z', '2025-12-31T23:59:55Z'],
    ['ms', 1500, '2026-01-01T00:00:00Z', '2026-01-01T00:00:01.500Z'],
  ])('DATEADD(%s, %d, %s) = %s', (p, n, from, to) => {
    expect(new Date(dateAdd(part(p), n, t(from))).toISOString()).toBe(new Date(t(to)).toISOString());
  });

  it.each([
    ['year', '2025-12-31T23:59:59Z', '2026-01-01T00:00:00Z', 1],
    ['month', '2026-01-31T00:00:00Z', '2026-02-01T00:00:00Z', 1],
    ['quarter', '2026-03-31T00:00:00Z', '2026-04-01T00:00:00Z', 1],
    ['day', '2026-01-01T23:00:00Z', '2026-01-02T01:00:00Z', 1],
    // 2026-01-03 is a Saturday, 2026-01-04 a Sunday: one week boundary crossed.
    ['week', '2026-01-03T00:00:00Z', '2026-01-04T00:00:00Z', 1],
    ['week', '2026-01-04T00:00:00Z', '2026-01-10T00:00:00Z', 0],
    ['hour', '2026-01-01T00:59:59Z', '2026-01-01T01:00:00Z', 1],
    ['second', '2026-01-01T00:00:00.999Z', '2026-01-01T00:00:01Z', 1],
    ['millisecond', '2026-01-01T00:00:01Z', '2026-01-01T00:00:00Z', -1000],
  ])('DATEDIFF(%s, %s, %s) = %d', (p, a, b, n) => {
    expect(dateDiff(part(p), t(a), t(b))).toBe(n);
  });

  it.each([
    ['year', 2026], ['quarter', 2], ['month', 5], ['dayofyear', 125], ['day', 5], ['weekday', 3],
    ['week', 19], ['hour', 6], ['minute', 7], ['second', 8], ['millisecond', 9],
  ])('DATEPART(%s, 2026-05-05T06:07:08.009Z) = %d', (p, n) => {
    expect(datePartOf(part(p), t('2026-05-05T06:07:08.009Z'))).toBe(n);
  });
});

describe('values', () => {
  it('casts like ASA', () => {
    expect(castTo('42.9', 'bigint')).toBe(42);
    expect(castTo('4.5', 'float')).toBe(4.5);
    expect(castTo(1, 'bit')).toBe(true);
    expect(castTo(12, 'nvarchar(max)')).toBe('12');
    expect((castTo('2026-01-01T00:00:00Z', 'datetime') as Date).toISOString()).toBe('2026-01-01T00:00:00.000Z');
    expect(castTo('abc', 'bigint')).toBeUndefined();
    expect(castTo(null, 'float')).toBeNull();
  });

  it('compares within a kind and calls mixed kinds unknown', () => {
    expect(compare(1, 2)).toBeLessThan(0);
    expect(compare('b', 'a')).toBeGreaterThan(0);
    expect(compare(new Date(5), '1970-01-01T00:00:00.005Z')).toBe(0);
    expect(compare(null, 1)).toBeNull();
    expect(compare('x', 1)).toBeNull();
  });
});
