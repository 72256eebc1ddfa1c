import { describe, expect, it } from 'vitest';
import { type AnalyticsEvent, type Tolerances } from '../../../agent/analytics/index.js';
import { at, iso, plain, refusalOf, run } from './helpers.js';

/**
 * LAG, LAST and ISFIRST, table-driven from the examples of ASA's "common query patterns" page
 * and the function reference pages. Expected rows are written by hand from what those pages say
 * the functions mean (look back k events of the same partition that satisfy WHEN, within LIMIT
 * DURATION, evaluated before WHERE; LAST is LAG with offset 0; ISFIRST is 1 for the first event
 * of its tumbling-aligned interval), never copied from the engine.
 */
interface Case {
  name: string;
  query: string;
  tolerances?: Partial<Tolerances>;
  /** [time (also arrival unless given), fields, arrival]. */
  events: Array<[string, Record<string, unknown>, string?]>;
  expected: Array<Record<string, unknown>>;
}

const toll = (): Case['events'] => [
  ['00:00:01', { Make: 'Make1', LicensePlate: 'ABC-123' }],
  ['00:00:02', { Make: 'Make1', LicensePlate: 'AAA-999' }],
  ['00:00:03', { Make: 'Make2', LicensePlate: 'DEF-987' }],
  ['00:00:04', { Make: 'Make1', LicensePlate: 'GHI-345' }],
];

const cars = (): Case['events'] => [
  ['00:00:05', { LicensePlate: 'DXE 5291', Make: 'Make1' }],
  ['00:02:06', { LicensePlate: 'YZK 5704', Make: 'Make3' }],
  ['00:05:01', { LicensePlate: 'RMV 8282', Make: 'Make1' }],
  ['00:06:00', { LicensePlate: 'YHN 6970', Make: 'Make2' }],
  ['00:09:31', { LicensePlate: 'VFE 1616', Make: 'Make2' }],
  ['00:12:02', { LicensePlate: 'QYF 9358', Make: 'Make1' }],
  ['00:13:45', { LicensePlate: 'MDR 6128', Make: 'Make4' }],
];

const cases: Case[] = [
  {
    // Query patterns, "Calculation over past events": output a car whose make differs from the previous car's.
    name: 'change detection: LAG(Make, 1) <> Make (the first event has no previous one: NULL, not output)',
    query: 'SELECT Make, Time FROM Input TIMESTAMP BY Time WHERE LAG(Make, 1) OVER (LIMIT DURATION(minute, 1)) <> Make',
    events: toll(),
    expected: [
      { Make: 'Make2', Time: iso('00:00:03') },
      { Make: 'Make1', Time: iso('00:00:04') },
    ],
  },
  {
    // Query patterns, "Correlate events in a stream": two consecutive cars of the same make within 90 s.
    name: 'correlation: LAG of several fields, WHERE LAG(Make) = Make',
    query: `SELECT Make, Time, LicensePlate AS CurrentCarLicensePlate,
              LAG(LicensePlate, 1) OVER (LIMIT DURATION(second, 90)) AS FirstCarLicensePlate,
              LAG(Time, 1) OVER (LIMIT DURATION(second, 90)) AS FirstCarTime
            FROM Input TIMESTAMP BY Time
            WHERE LAG(Make, 1) OVER (LIMIT DURATION(second, 90)) = Make`,
    events: toll(),
    expected: [{ Make: 'Make1', Time: iso('00:00:02'), CurrentCarLicensePlate: 'AAA-999', FirstCarLicensePlate: 'ABC-123', FirstCarTime: iso('00:00:01') }],
  },
  {
    // Query patterns, "Retrieve the first event in a window": the first car of every 10-minute interval.
    name: 'first event: IsFirst(minute, 10) = 1',
    query: 'SELECT LicensePlate, Make, Time FROM Input TIMESTAMP BY Time WHERE IsFirst(minute, 10) = 1',
    events: cars(),
    expected: [
      { LicensePlate: 'DXE 5291', Make: 'Make1', Time: iso('00:00:05') },
      { LicensePlate: 'QYF 9358', Make: 'Make1', Time: iso('00:12:02') },
    ],
  },
  {
    name: 'first event per make: IsFirst(minute, 10) OVER (PARTITION BY Make) = 1',
    query: 'SELECT LicensePlate, Make, Time FROM Input TIMESTAMP BY Time WHERE IsFirst(minute, 10) OVER (PARTITION BY Make) = 1',
    events: cars(),
    expected: [
      { LicensePlate: 'DXE 5291', Make: 'Make1', Time: iso('00:00:05') },
      { LicensePlate: 'YZK 5704', Make: 'Make3', Time: iso('00:02:06') },
      { LicensePlate: 'YHN 6970', Make: 'Make2', Time: iso('00:06:00') },
      { LicensePlate: 'QYF 9358', Make: 'Make1', Time: iso('00:12:02') },
      { LicensePlate: 'MDR 6128', Make: 'Make4', Time: iso('00:13:45') },
    ],
  },
  {
    // ISFIRST reference: an event that does not satisfy WHEN gets 0 and does not count as the first.
    name: 'ISFIRST with WHEN: only events satisfying it are ranked',
    query: 'SELECT n, ISFIRST(second, 10) OVER (WHEN v > 5) AS first FROM Input TIMESTAMP BY Time',
    events: [
      ['00:00:01', { n: 1, v: 1 }],
      ['00:00:02', { n: 2, v: 9 }],
      ['00:00:03', { n: 3, v: 9 }],
      ['00:00:10', { n: 4, v: 9 }],
      ['00:00:10.001', { n: 5, v: 9 }],
    ],
    // Intervals are aligned as tumbling windows, (start, end]: 00:00:10 still belongs to the first.
    expected: [
      { n: 1, first: 0 },
      { n: 2, first: 1 },
      { n: 3, first: 0 },
      { n: 4, first: 0 },
      { n: 5, first: 1 },
    ],
  },
  {
    // Query patterns, "Calculate the duration between events": from the last 'start' to this 'end'.
    name: "duration between events: DATEDIFF(second, LAST(Time) OVER (… WHEN Event = 'start'), Time)",
    query: `SELECT [user], feature,
              DATEDIFF(second, LAST(Time) OVER (PARTITION BY [user], feature LIMIT DURATION(hour, 1) WHEN Event = 'start'), Time) AS duration
            FROM input TIMESTAMP BY Time WHERE Event = 'end'`,
    events: [
      ['00:00:01', { user: 'user@location.com', feature: 'TestFeature', Event: 'start' }],
      ['00:00:02', { user: 'other@location.com', feature: 'TestFeature', Event: 'start' }],
      ['00:00:08', { user: 'user@location.com', feature: 'TestFeature', Event: 'end' }],
      ['00:00:09', { user: 'third@location.com', feature: 'TestFeature', Event: 'end' }],
    ],
    expected: [
      { user: 'user@location.com', feature: 'TestFeature', duration: 7 },
      { user: 'third@location.com', feature: 'TestFeature', duration: null },
    ],
  },
  {
    // Query patterns, "Calculate the duration of a condition": how long the weight stayed above 20,000.
    name: 'duration of a condition: LAG … WHEN over a WITH step that itself uses LAG',
    query: `WITH SelectPreviousEvent AS (
              SELECT *, LAG([time]) OVER (LIMIT DURATION(hour, 24)) AS previous_time, LAG([weight]) OVER (LIMIT DURATION(hour, 24)) AS previous_weight
              FROM input TIMESTAMP BY [time]
            )
            SELECT LAG(time) OVER (LIMIT DURATION(hour, 24) WHEN previous_weight < 20000) [StartFault], previous_time [EndFault]
            FROM SelectPreviousEvent
            WHERE [weight] < 20000 AND previous_weight > 20000`,
    events: [
      ['00:00:01', { Make: 'Make1', weight: 2000 }],
      ['00:00:02', { Make: 'Make2', weight: 25000 }],
      ['00:00:03', { Make: 'Make1', weight: 26000 }],
      ['00:00:04', { Make: 'Make2', weight: 25000 }],
      ['00:00:05', { Make: 'Make1', weight: 26000 }],
      ['00:00:06', { Make: 'Make2', weight: 25000 }],
      ['00:00:07', { Make: 'Make1', weight: 26000 }],
      ['00:00:08', { Make: 'Make2', weight: 2000 }],
    ].map(([t, f]) => [t as string, { ...(f as Record<string, unknown>), time: iso(t as string) }]),
    expected: [{ StartFault: iso('00:00:02'), EndFault: iso('00:00:07') }],
  },
  {
    // LAG reference: rate of growth per sensor, in T-SQL's `alias = expression` form.
    name: 'growth per sensor: growth = reading - LAG(reading) OVER (PARTITION BY sensorId LIMIT DURATION(hour, 1))',
    query: 'SELECT sensorId, growth = reading - LAG(reading) OVER (PARTITION BY sensorId LIMIT DURATION(hour, 1)) FROM input TIMESTAMP BY t',
    events: [
      ['00:00:01', { sensorId: 'a', reading: 10 }],
      ['00:00:02', { sensorId: 'b', reading: 100 }],
      ['00:00:03', { sensorId: 'a', reading: 13 }],
      ['01:00:03', { sensorId: 'a', reading: 20 }],
      ['01:00:04', { sensorId: 'b', reading: 90 }],
    ],
    // a's third reading is exactly an hour after the second: still within LIMIT DURATION; b's is not.
    expected: [
      { sensorId: 'a', growth: null },
      { sensorId: 'b', growth: null },
      { sensorId: 'a', growth: 3 },
      { sensorId: 'a', growth: 7 },
      { sensorId: 'b', growth: null },
    ],
  },
  {
    // LAG reference: LAG(name, 2, 'none such') OVER (PARTITION BY userId LIMIT DURATION(minute, 2)); LAG(*) is the whole event.
    name: 'LAG with an offset, a default, and LAG(*)',
    query: `SELECT name, LAG(name, 2, 'none such') OVER (PARTITION BY userId LIMIT DURATION(minute, 2)) AS twoBack,
                   LAG(*) OVER (LIMIT DURATION(minute, 2)) AS prev
            FROM input TIMESTAMP BY t`,
    events: [
      ['00:00:01', { userId: 1, name: 'a' }],
      ['00:00:02', { userId: 1, name: 'b' }],
      ['00:00:03', { userId: 2, name: 'c' }],
      ['00:00:04', { userId: 1, name: 'd' }],
    ],
    expected: [
      { name: 'a', twoBack: 'none such', prev: null },
      { name: 'b', twoBack: 'none such', prev: { t: iso('00:00:01'), userId: 1, name: 'a' } },
      { name: 'c', twoBack: 'none such', prev: { t: iso('00:00:02'), userId: 1, name: 'b' } },
      { name: 'd', twoBack: 'a', prev: { t: iso('00:00:03'), userId: 2, name: 'c' } },
    ],
  },
  {
    // "Events are processed in temporal order; events with the same time stamp in the order of arrival."
    name: 'out-of-order arrival is re-sorted before LAG sees it; equal times keep arrival order',
    query: 'SELECT n, LAG(n) OVER (LIMIT DURATION(minute, 1)) AS prev FROM input TIMESTAMP BY t',
    tolerances: { outOfOrderMs: 10_000, lateArrivalMs: 60_000 },
    events: [
      ['00:00:05', { n: 3 }],
      ['00:00:02', { n: 1 }, '00:00:06'],
      ['00:00:05', { n: 4 }, '00:00:07'],
      ['00:00:03', { n: 2 }, '00:00:08'],
    ],
    expected: [
      { n: 1, prev: null },
      { n: 2, prev: 1 },
      { n: 3, prev: 2 },
      { n: 4, prev: 3 },
    ],
  },
  {
    // OVER reference: the average temperature of the last 5 minutes, per sensor (the current event included).
    name: 'AVG(temperature) OVER (PARTITION BY id LIMIT DURATION(minute, 5))',
    query: 'SELECT id, AVG(temperature) OVER (PARTITION BY id LIMIT DURATION (minute, 5)) AS avg5 FROM input TIMESTAMP BY t',
    events: [
      ['00:00:00', { id: 'a', temperature: 10 }],
      ['00:01:00', { id: 'b', temperature: 50 }],
      ['00:02:00', { id: 'a', temperature: 20 }],
      ['00:05:00', { id: 'a', temperature: 30 }],
      ['00:05:01', { id: 'a', temperature: 40 }],
    ],
    // At 00:05:00 the reading of 00:00:00 is exactly 5 minutes old: still in; at 00:05:01 it is out.
    expected: [
      { id: 'a', avg5: 10 },
      { id: 'b', avg5: 50 },
      { id: 'a', avg5: 15 },
      { id: 'a', avg5: 20 },
      { id: 'a', avg5: 30 },
    ],
  },
  {
    // OVER reference: raise an alert if the resource has been unhealthy for the whole last hour.
    name: 'WHERE MAX(healthy) OVER (PARTITION BY id LIMIT DURATION(hour, 1)) = 0',
    query: 'SELECT id, 1 AS alert FROM input TIMESTAMP BY t WHERE MAX(healthy) OVER (PARTITION BY id LIMIT DURATION (hour, 1)) = 0',
    events: [
      ['00:00:00', { id: 'r1', healthy: 1 }],
      ['00:30:00', { id: 'r1', healthy: 0 }],
      ['00:40:00', { id: 'r2', healthy: 0 }],
      ['01:10:00', { id: 'r1', healthy: 0 }],
    ],
    expected: [
      { id: 'r2', alert: 1 },
      { id: 'r1', alert: 1 },
    ],
  },
  {
    name: 'SUM and MIN OVER with WHEN: only the events satisfying it are in the group',
    query: "SELECT n, SUM(v) OVER (LIMIT DURATION(second, 10) WHEN kind = 'in') AS s, MIN(v) OVER (LIMIT DURATION(second, 10)) AS lo FROM input TIMESTAMP BY t",
    events: [
      ['00:00:01', { n: 1, v: 5, kind: 'in' }],
      ['00:00:02', { n: 2, v: 3, kind: 'out' }],
      ['00:00:03', { n: 3, v: 7, kind: 'in' }],
      ['00:00:13', { n: 4, v: 9, kind: 'out' }],
    ],
    expected: [
      { n: 1, s: 5, lo: 5 },
      { n: 2, s: 5, lo: 3 },
      { n: 3, s: 12, lo: 3 },
      { n: 4, s: 7, lo: 7 },
    ],
  },
  {
    // TopOne reference, analytic form: the highest reading of the sensor in the last 10 s, WHEN it is good.
    name: "TopOne(v) OVER (PARTITION BY k ORDER BY v DESC LIMIT DURATION(second, 10) WHEN q = 'good')",
    query: "SELECT n, TopOne(v) OVER (PARTITION BY k ORDER BY v DESC LIMIT DURATION(second, 10) WHEN q = 'good') AS best, TopOne() OVER (ORDER BY v ASC LIMIT DURATION(second, 3)) AS low FROM input TIMESTAMP BY t",
    events: [
      ['00:00:01', { n: 1, k: 'a', v: 5, q: 'good' }],
      ['00:00:02', { n: 2, k: 'a', v: 9, q: 'bad' }],
      ['00:00:03', { n: 3, k: 'a', v: 7, q: 'good' }],
      ['00:00:08', { n: 4, k: 'a', v: 6, q: 'good' }],
      ['00:00:14', { n: 5, k: 'a', v: 1, q: 'good' }],
    ],
    // At 00:00:14 the 00:00:03 reading is 11 s old: out; 6 (00:00:08) is the best left.
    expected: [
      { n: 1, best: 5, low: { t: iso('00:00:01'), n: 1, k: 'a', v: 5, q: 'good' } },
      { n: 2, best: 5, low: { t: iso('00:00:01'), n: 1, k: 'a', v: 5, q: 'good' } },
      { n: 3, best: 7, low: { t: iso('00:00:01'), n: 1, k: 'a', v: 5, q: 'good' } },
      { n: 4, best: 7, low: { t: iso('00:00:08'), n: 4, k: 'a', v: 6, q: 'good' } },
      { n: 5, best: 6, low: { t: iso('00:00:14'), n: 5, k: 'a', v: 1, q: 'good' } },
    ],
  },
  {
    // TopOne reference, aggregate form with a projection: TopOne(x * y) OVER (ORDER BY value DESC).
    name: 'TopOne(x * y) OVER (ORDER BY value DESC) per tumbling window',
    query: 'SELECT TopOne(x * y) OVER (ORDER BY value DESC) AS topEvent FROM input TIMESTAMP BY t GROUP BY Tumbling(second, 10)',
    events: [
      ['00:00:01', { x: 2, y: 3, value: 10 }],
      ['00:00:02', { x: 4, y: 5, value: 30 }],
      ['00:00:03', { x: 6, y: 7, value: 20 }],
    ],
    expected: [{ topEvent: 20 }],
  },
  {
    // LAG is evaluated before WHERE and GROUP BY: count the changes per window.
    name: 'LAG inside a grouped statement: WHERE with LAG, then COUNT per tumbling window',
    query: `SELECT COUNT(*) AS changes, System.Timestamp() AS e FROM input TIMESTAMP BY t
            WHERE LAG(state) OVER (LIMIT DURATION(minute, 5)) <> state GROUP BY TumblingWindow(second, 10)`,
    events: [
      ['00:00:01', { state: 'on' }],
      ['00:00:02', { state: 'off' }],
      ['00:00:03', { state: 'off' }],
      ['00:00:04', { state: 'on' }],
      ['00:00:12', { state: 'off' }],
    ],
    expected: [
      { changes: 2, e: iso('00:00:10') },
      { changes: 1, e: iso('00:00:20') },
    ],
  },
];

function events(list: Case['events']): AnalyticsEvent[] {
  return list.map(([t, fields, arrival]) => ({ t: iso(t), Time: iso(t), ...fields, arrivalTime: at(arrival ?? t) }));
}

describe('analytic functions (ASA query patterns and reference pages)', () => {
  it.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    // Each event carries the one time field its query reads (t or Time), so SELECT * shows no other.
    const evs = events(c.events).map((e) => {
      const out: AnalyticsEvent = { ...e };
      if (c.query.includes('TIMESTAMP BY Time')) delete out.t;
      else delete out.Time;
      return out;
    });
    const { rows } = run(c.query, evs, c.tolerances ?? { lateArrivalMs: 60_000 });
    expect(rows.map((r) => plain(r))).toEqual(c.expected);
  });

  it('keeps only what LIMIT DURATION and the offset need, and checkpoints it', () => {
    const q = 'SELECT k, LAG(v, 2) OVER (PARTITION BY k LIMIT DURATION(second, 30)) AS back2 FROM input TIMESTAMP BY t';
    const evs: AnalyticsEvent[] = Array.from({ length: 200 }, (_, i) => ({ t: new Date(at('00:00:00') + i * 1000).toISOString(), k: `k${i % 4}`, v: i, arrivalTime: at('00:00:00') + i * 1000 }));
    const { rows, engine } = run(q, evs, {}, { flush: false });
    // Two entries per partition at most (plus the event held at the watermark).
    const saved = engine.checkpoint();
    expect(JSON.stringify(saved).length).toBeLessThan(2000);
    expect(rows.at(-1)!.row).toEqual({ k: 'k2', back2: 190 });
  });

  it.each([
    ['SELECT LAG(a) FROM input', 'LAG needs OVER'],
    ['SELECT LAG(a) OVER (PARTITION BY b) FROM input', 'LAG needs LIMIT DURATION'],
    ['SELECT LAG(a, 0) OVER (LIMIT DURATION(s, 1)) FROM input', 'offset must be a whole number of 1 or more'],
    ['SELECT ISFIRST(fortnight, 1) FROM input', "unknown time unit 'fortnight'"],
    ['SELECT LAG(LAG(a) OVER (LIMIT DURATION(s, 1))) OVER (LIMIT DURATION(s, 1)) FROM input', 'LAG is evaluated on each input event'],
    ['SELECT LAG(a) OVER (LIMIT DURATION(s, 1)) AS p, COUNT(*) AS n FROM input GROUP BY TumblingWindow(s, 1)', 'LAG is evaluated on each input event'],
  ])('refuses %s', (text, reason) => {
    const err = refusalOf(text);
    expect(err.code).toBe('EDGE_QUERY_SYNTAX');
    expect(err.message).toContain(reason);
  });
});
