import { describe, expect, it } from 'vitest';
import type { AnalyticsEvent, Tolerances } from '../../../agent/analytics/index.js';
import { at, iso, plain, run } from './helpers.js';

/**
 * Table-driven golden cases. Expected rows are written by hand from DESIGN §4 and ASA's
 * documented window semantics, never copied from the engine's output.
 */
interface Case {
  name: string;
  query: string;
  tolerances?: Partial<Tolerances>;
  /** [application time, arrival time (defaults to application time), extra fields]. */
  events: Array<[string, string | null, Record<string, unknown>?]>;
  expected: Array<Record<string, unknown>>;
  /** Expected windowStart of each row, when the case is about it. */
  starts?: string[];
  withOutput?: boolean;
}

function events(list: Case['events']): AnalyticsEvent[] {
  return list.map(([app, arrival, extra]) => ({ ts: iso(app), arrivalTime: at(arrival ?? app), ...extra }));
}

const WORKED = { lateArrivalMs: 600_000, outOfOrderMs: 180_000 };
const WORKED_EVENTS: Case['events'] = [
  ['00:00:00', '00:10:01', { n: 1 }],
  ['00:00:01', '00:10:01', { n: 2 }],
  ['00:10:00', '00:10:02', { n: 3 }],
  ['00:09:00', '00:10:03', { n: 4 }],
  ['00:06:00', '00:10:04', { n: 5 }],
];

const cases: Case[] = [
  {
    name: 'DESIGN §4 worked example: final timestamps, re-sorted within O',
    query: 'SELECT n, System.Timestamp() AS final FROM input TIMESTAMP BY ts',
    tolerances: { ...WORKED, policy: 'adjust' },
    events: WORKED_EVENTS,
    expected: [
      { n: 1, final: iso('00:00:01') },
      { n: 2, final: iso('00:00:01') },
      { n: 5, final: iso('00:07:00') },
      { n: 4, final: iso('00:09:00') },
      { n: 3, final: iso('00:10:00') },
    ],
  },
  {
    name: 'DESIGN §4 worked example as snapshot windows (GROUP BY System.Timestamp())',
    query: 'SELECT System.Timestamp() AS t, COUNT(*) AS count, SUM(n) AS ns FROM input TIMESTAMP BY ts GROUP BY System.Timestamp()',
    tolerances: { ...WORKED, policy: 'adjust' },
    events: WORKED_EVENTS,
    expected: [
      { t: iso('00:00:01'), count: 2, ns: 3 },
      { t: iso('00:07:00'), count: 1, ns: 5 },
      { t: iso('00:09:00'), count: 1, ns: 4 },
      { t: iso('00:10:00'), count: 1, ns: 3 },
    ],
  },
  {
    name: 'DESIGN §4 worked example with policy drop: events 1 and 5 are dropped',
    query: 'SELECT n, System.Timestamp() AS final FROM input TIMESTAMP BY ts',
    tolerances: { ...WORKED, policy: 'drop' },
    events: WORKED_EVENTS,
    expected: [
      { n: 2, final: iso('00:00:01') },
      { n: 4, final: iso('00:09:00') },
      { n: 3, final: iso('00:10:00') },
    ],
  },
  {
    // ASA docs, Tumbling window: COUNT(*) per TimeZone over TumblingWindow(second, 10).
    name: 'tumbling window: (start, end], stamped with the end, epoch-aligned',
    query: `SELECT System.Timestamp() AS WindowEnd, TimeZone, COUNT(*) AS Count
            FROM TimeZoneInput TIMESTAMP BY ts GROUP BY TimeZone, TumblingWindow(second, 10)`,
    events: [
      ['00:00:01', null, { TimeZone: 'PST' }],
      ['00:00:05', null, { TimeZone: 'EST' }],
      ['00:00:10', null, { TimeZone: 'PST' }],
      ['00:00:10.001', null, { TimeZone: 'PST' }],
      ['00:00:19', null, { TimeZone: 'EST' }],
      ['00:00:20', null, { TimeZone: 'EST' }],
      ['00:00:26', null, { TimeZone: 'PST' }],
    ],
    expected: [
      { WindowEnd: iso('00:00:10'), TimeZone: 'EST', Count: 1 },
      { WindowEnd: iso('00:00:10'), TimeZone: 'PST', Count: 2 },
      { WindowEnd: iso('00:00:20'), TimeZone: 'EST', Count: 2 },
      { WindowEnd: iso('00:00:20'), TimeZone: 'PST', Count: 1 },
      { WindowEnd: iso('00:00:30'), TimeZone: 'PST', Count: 1 },
    ],
  },
  {
    name: 'tumbling window with an offset: TumblingWindow(Duration(second, 10), Offset(second, 2))',
    query: `SELECT DATEADD(second, -10, System.Timestamp()) AS s, System.Timestamp() AS e, COUNT(*) AS c
            FROM input TIMESTAMP BY ts GROUP BY TumblingWindow(Duration(second, 10), Offset(second, 2))`,
    events: [['00:00:01', null], ['00:00:02', null], ['00:00:03', null], ['00:00:12', null], ['00:00:12.5', null]],
    expected: [
      { s: iso('23:59:52').replace('2026-01-01', '2025-12-31'), e: iso('00:00:02'), c: 2 },
      { s: iso('00:00:02'), e: iso('00:00:12'), c: 2 },
      { s: iso('00:00:12'), e: iso('00:00:22'), c: 1 },
    ],
  },
  {
    // ASA docs: Offset(millisecond, -1) turns (start, end] into [start, end) at millisecond resolution.
    name: 'tumbling window with Offset(millisecond, -1): an event on the boundary opens the next window',
    query: `SELECT System.Timestamp() AS e, COUNT(*) AS c FROM input TIMESTAMP BY ts
            GROUP BY TumblingWindow(Duration(second, 10), Offset(millisecond, -1))`,
    events: [['00:00:00', null], ['00:00:09.999', null], ['00:00:10', null]],
    expected: [
      { e: iso('00:00:09.999'), c: 2 },
      { e: iso('00:00:19.999'), c: 1 },
    ],
  },
  {
    // ASA docs, Hopping window: HoppingWindow(second, 10, 5); every event is in two windows.
    name: 'hopping window: 10 s windows every 5 s',
    query: `SELECT System.Timestamp() AS WindowEnd, COUNT(*) AS Count, SUM(v) AS total
            FROM input TIMESTAMP BY ts GROUP BY HoppingWindow(second, 10, 5)`,
    events: [
      ['00:00:01', null, { v: 1 }],
      ['00:00:03', null, { v: 2 }],
      ['00:00:06', null, { v: 4 }],
      ['00:00:10', null, { v: 8 }],
      ['00:00:12', null, { v: 16 }],
      ['00:00:17', null, { v: 32 }],
    ],
    expected: [
      { WindowEnd: iso('00:00:05'), Count: 2, total: 3 },
      { WindowEnd: iso('00:00:10'), Count: 4, total: 15 },
      { WindowEnd: iso('00:00:15'), Count: 3, total: 28 },
      { WindowEnd: iso('00:00:20'), Count: 2, total: 48 },
      { WindowEnd: iso('00:00:25'), Count: 1, total: 32 },
    ],
  },
  {
    name: 'hopping window whose hop does not divide the size (panes of gcd = 2 s)',
    query: 'SELECT System.Timestamp() AS e, COUNT(*) AS c FROM input TIMESTAMP BY ts GROUP BY HoppingWindow(second, 6, 4)',
    events: [['00:00:01', null], ['00:00:03', null], ['00:00:05', null], ['00:00:07', null]],
    expected: [
      { e: iso('00:00:04'), c: 2 },
      { e: iso('00:00:08'), c: 3 },
      { e: iso('00:00:12'), c: 1 },
    ],
  },
  {
    // ASA docs, Sliding window: A at 34, B at 38, C at 42, window 5 → rows at 34, 38, 39, 42, 43; none at 47.
    name: 'sliding window: a row when an event enters or leaves, none for an empty window',
    query: `SELECT System.Timestamp() AS t, COUNT(*) AS n, MIN(name) AS first
            FROM input TIMESTAMP BY ts GROUP BY SlidingWindow(second, 5)`,
    events: [
      ['00:00:34', null, { name: 'A' }],
      ['00:00:38', null, { name: 'B' }],
      ['00:00:42', null, { name: 'C' }],
    ],
    expected: [
      { t: iso('00:00:34'), n: 1, first: 'A' },
      { t: iso('00:00:38'), n: 2, first: 'A' },
      { t: iso('00:00:39'), n: 1, first: 'B' },
      { t: iso('00:00:42'), n: 2, first: 'B' },
      { t: iso('00:00:43'), n: 1, first: 'C' },
    ],
  },
  {
    name: 'sliding window with HAVING (ASA docs: toll booths with more than N cars in the last 5 minutes)',
    query: `SELECT DateAdd(second, -5, System.Timestamp()) AS WinStartTime, System.Timestamp() AS WinEndTime, TollId, COUNT(*) AS cars
            FROM Input TIMESTAMP BY ts GROUP BY TollId, SlidingWindow(second, 5) HAVING COUNT(*) > 1`,
    events: [
      ['00:00:01', null, { TollId: 1 }],
      ['00:00:02', null, { TollId: 2 }],
      ['00:00:03', null, { TollId: 1 }],
      ['00:00:09', null, { TollId: 1 }],
    ],
    expected: [{ WinStartTime: iso('23:59:58').replace('2026-01-01', '2025-12-31'), WinEndTime: iso('00:00:03'), TollId: 1, cars: 2 }],
  },
  {
    // ASA docs, Session window: timeout, maximum duration checked at multiples of it, per partition key.
    name: 'session window: timeout, maximum duration and OVER (PARTITION BY)',
    query: `SELECT user_id, COUNT(*) AS clicks, System.Timestamp() AS ended
            FROM clicks TIMESTAMP BY ts GROUP BY user_id, SessionWindow(second, 5, 20) OVER (PARTITION BY user_id)`,
    starts: [iso('00:00:01'), iso('00:00:20'), iso('00:00:00'), iso('00:00:40')],
    events: [
      ['00:00:00', null, { user_id: 'b' }],
      ['00:00:01', null, { user_id: 'a' }],
      ['00:00:03', null, { user_id: 'a' }],
      ['00:00:04', null, { user_id: 'b' }],
      ['00:00:07', null, { user_id: 'a' }],
      ['00:00:08', null, { user_id: 'b' }],
      ['00:00:12', null, { user_id: 'b' }],
      ['00:00:16', null, { user_id: 'b' }],
      ['00:00:20', null, { user_id: 'a' }],
      ['00:00:20', null, { user_id: 'b' }],
      ['00:00:24', null, { user_id: 'b' }],
      ['00:00:28', null, { user_id: 'b' }],
      ['00:00:32', null, { user_id: 'b' }],
      ['00:00:36', null, { user_id: 'b' }],
      ['00:00:40', null, { user_id: 'b' }],
      ['00:00:44', null, { user_id: 'b' }],
    ],
    // a: 1, 3, 7 → ends at 7 + 5 = 12; then 20 → ends at 25.
    // b: every 4 s from 0; the first check point where it is longer than 20 s is 40 → ends at 40 with 11 clicks;
    //    44 comes within the timeout, so the next session opens at the check point 40 and ends at 44 + 5.
    expected: [
      { user_id: 'a', clicks: 3, ended: iso('00:00:12') },
      { user_id: 'a', clicks: 1, ended: iso('00:00:25') },
      { user_id: 'b', clicks: 11, ended: iso('00:00:40') },
      { user_id: 'b', clicks: 1, ended: iso('00:00:49') },
    ],
  },
  {
    name: 'aggregates: COUNT(x) skips NULL, COUNT(DISTINCT), STDEV/STDEVP/VAR/VARP, TopOne',
    query: `SELECT COUNT(*) AS all_, COUNT(v) AS nonNull, COUNT(DISTINCT k) AS kinds, SUM(v) AS s, AVG(v) AS a,
                   MIN(v) AS lo, MAX(v) AS hi, VAR(v) AS var, VARP(v) AS varp, STDEV(v) AS sd, STDEVP(v) AS sdp,
                   TopOne() OVER (ORDER BY v DESC) AS top
            FROM input TIMESTAMP BY ts GROUP BY TumblingWindow(minute, 1)`,
    events: [
      ['00:00:01', null, { v: 2, k: 'x' }],
      ['00:00:02', null, { v: 4, k: 'y' }],
      ['00:00:03', null, { v: null, k: 'x' }],
      ['00:00:04', null, { v: 6, k: 'x' }],
    ],
    expected: [
      {
        all_: 4, nonNull: 3, kinds: 2, s: 12, a: 4, lo: 2, hi: 6, var: 4, varp: 8 / 3, sd: 2, sdp: Math.sqrt(8 / 3),
        top: { ts: iso('00:00:04'), v: 6, k: 'x' },
      },
    ],
  },
  {
    name: 'scalars: WHERE, CASE, CAST, DATEPART, DATEDIFF, nested fields, IS NULL',
    query: `SELECT r.id AS id, CASE WHEN r.temp.c > 30 THEN 'hot' ELSE 'ok' END AS state, CAST(r.temp.c AS bigint) AS whole,
                   DATEPART(minute, System.Timestamp()) AS minute, DATEDIFF(second, '2026-01-01T00:00:00Z', System.Timestamp()) AS age,
                   r.missing IS NULL AS gone
            FROM input r TIMESTAMP BY r.ts WHERE r.temp.c >= 20 AND NOT r.id = 'skip'`,
    events: [
      ['00:01:05', null, { id: 'a', temp: { c: 31.7 } }],
      ['00:01:06', null, { id: 'skip', temp: { c: 40 } }],
      ['00:01:07', null, { id: 'b', temp: { c: 10 } }],
      ['00:02:00', null, { id: 'c', temp: { c: 20 } }],
    ],
    expected: [
      { id: 'a', state: 'hot', whole: 31, minute: 1, age: 65, gone: true },
      { id: 'c', state: 'ok', whole: 20, minute: 2, age: 120, gone: true },
    ],
  },
  {
    name: 'WITH steps and several INTO outputs',
    query: `WITH perSensor AS (
              SELECT sensor, AVG(v) AS avg FROM input TIMESTAMP BY ts GROUP BY sensor, TumblingWindow(second, 10)
            )
            SELECT sensor, avg INTO detail FROM perSensor WHERE avg > 2;
            SELECT MAX(avg) AS top, COUNT(*) AS sensors, System.Timestamp() AS t INTO summary FROM perSensor GROUP BY TumblingWindow(second, 10)`,
    withOutput: true,
    events: [
      ['00:00:01', null, { sensor: 'a', v: 1 }],
      ['00:00:02', null, { sensor: 'b', v: 3 }],
      ['00:00:03', null, { sensor: 'a', v: 2 }],
      ['00:00:11', null, { sensor: 'b', v: 5 }],
    ],
    expected: [
      { output: 'detail', sensor: 'b', avg: 3 },
      { output: 'summary', top: 3, sensors: 2, t: iso('00:00:10') },
      { output: 'detail', sensor: 'b', avg: 5 },
      { output: 'summary', top: 5, sensors: 1, t: iso('00:00:20') },
    ],
  },
  {
    // Device b's clock lags a's by a minute; with OVER each device is its own timeline.
    name: 'TIMESTAMP BY … OVER: ordering is per partition, so a lagging device is not out of order',
    query: 'SELECT deviceId, COUNT(*) AS n FROM input TIMESTAMP BY ts OVER deviceId GROUP BY deviceId, TumblingWindow(minute, 1)',
    tolerances: { lateArrivalMs: 600_000, outOfOrderMs: 0 },
    events: [
      ['00:00:10', '00:01:09', { deviceId: 'b' }],
      ['00:01:10', '00:01:11', { deviceId: 'a' }],
      ['00:00:20', '00:01:12', { deviceId: 'b' }],
      ['00:01:20', '00:01:21', { deviceId: 'a' }],
    ],
    expected: [
      { deviceId: 'b', n: 2 },
      { deviceId: 'a', n: 2 },
    ],
  },
  {
    // ASA substreams: with OVER deviceId and GROUP BY deviceId, b starts its own timeline even though a came first.
    name: 'TIMESTAMP BY … OVER with the key in GROUP BY: a device first seen behind another is not out of order',
    query: 'SELECT deviceId, COUNT(*) AS n FROM input TIMESTAMP BY ts OVER deviceId GROUP BY deviceId, TumblingWindow(minute, 1)',
    tolerances: { lateArrivalMs: 600_000, outOfOrderMs: 0 },
    events: [
      ['00:01:10', '00:01:11', { deviceId: 'a' }],
      ['00:00:10', '00:01:12', { deviceId: 'b' }],
      ['00:01:20', '00:01:21', { deviceId: 'a' }],
      ['00:00:20', '00:01:22', { deviceId: 'b' }],
    ],
    expected: [
      { deviceId: 'a', n: 2 },
      { deviceId: 'b', n: 2 },
    ],
    starts: [iso('00:01:00'), iso('00:00:00')],
  },
  {
    name: 'the same events without OVER (and no source field): one partition, b is out of order and adjusted',
    query: 'SELECT deviceId, COUNT(*) AS n FROM input TIMESTAMP BY ts GROUP BY deviceId, TumblingWindow(minute, 1)',
    tolerances: { lateArrivalMs: 600_000, outOfOrderMs: 0 },
    events: [
      ['00:00:10', '00:01:09', { deviceId: 'b' }],
      ['00:01:10', '00:01:11', { deviceId: 'a' }],
      ['00:00:20', '00:01:12', { deviceId: 'b' }],
      ['00:01:20', '00:01:21', { deviceId: 'a' }],
    ],
    // b's second event is older than 00:01:10 − O, so it is adjusted to 00:01:10: into a's minute.
    expected: [
      { deviceId: 'b', n: 1 },
      { deviceId: 'a', n: 2 },
      { deviceId: 'b', n: 1 },
    ],
  },
  {
    name: 'snapshot window with a GROUP BY key',
    query: 'SELECT k, System.Timestamp() AS t, SUM(v) AS s FROM input TIMESTAMP BY ts GROUP BY k, System.Timestamp()',
    events: [
      ['00:00:01', null, { k: 'y', v: 1 }],
      ['00:00:01', null, { k: 'x', v: 2 }],
      ['00:00:01', null, { k: 'y', v: 3 }],
      ['00:00:02', null, { k: 'x', v: 4 }],
    ],
    expected: [
      { k: 'x', t: iso('00:00:01'), s: 2 },
      { k: 'y', t: iso('00:00:01'), s: 4 },
      { k: 'x', t: iso('00:00:02'), s: 4 },
    ],
  },
  {
    name: 'revise: a late event re-emits its closed window with rev + 1',
    query: 'SELECT System.Timestamp() AS t, COUNT(*) AS n FROM input TIMESTAMP BY ts GROUP BY TumblingWindow(second, 10)',
    tolerances: { lateArrivalMs: 5000, outOfOrderMs: 0, policy: 'revise', allowedLatenessMs: 60_000 },
    events: [
      ['00:00:01', null],
      ['00:00:12', null],
      ['00:00:05', '00:00:13'],
    ],
    expected: [
      { t: iso('00:00:10'), n: 1 },
      { t: iso('00:00:10'), n: 2, rev: 1 },
      { t: iso('00:00:20'), n: 1 },
    ],
  },
  {
    name: 'the same late event under drop',
    query: 'SELECT System.Timestamp() AS t, COUNT(*) AS n FROM input TIMESTAMP BY ts GROUP BY TumblingWindow(second, 10)',
    tolerances: { lateArrivalMs: 5000, outOfOrderMs: 0, policy: 'drop' },
    events: [['00:00:01', null], ['00:00:12', null], ['00:00:05', '00:00:13']],
    expected: [
      { t: iso('00:00:10'), n: 1 },
      { t: iso('00:00:20'), n: 1 },
    ],
  },
  {
    name: 'the same late event under adjust: moved to the watermark (00:00:12)',
    query: 'SELECT System.Timestamp() AS t, COUNT(*) AS n FROM input TIMESTAMP BY ts GROUP BY TumblingWindow(second, 10)',
    tolerances: { lateArrivalMs: 5000, outOfOrderMs: 0, policy: 'adjust' },
    events: [['00:00:01', null], ['00:00:12', null], ['00:00:05', '00:00:13']],
    expected: [
      { t: iso('00:00:10'), n: 1 },
      { t: iso('00:00:20'), n: 2 },
    ],
  },
];

describe('golden cases (DESIGN §4, ASA window documentation)', () => {
  it.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const { rows } = run(c.query, events(c.events), c.tolerances);
    expect(rows.map((r) => plain(r, c.withOutput))).toEqual(c.expected);
    if (c.starts) expect(rows.map((r) => (r.windowStart === null ? null : new Date(r.windowStart).toISOString()))).toEqual(c.starts);
  });
});
