import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileQuery, type AnalyticsEvent } from '../../../agent/analytics/index.js';
import { parseIsoTime } from '../../../agent/analytics/iso-time.js';
import { at, iso, plain, refusalOf, run } from './helpers.js';

/**
 * The seven silently wrong results of issue #13, each against what ASA documents: times are UTC
 * (a zone-less ISO 8601 string too), only ISO 8601 strings and epoch numbers are times, OVER
 * makes independent substreams, early events are dropped, CAST fails loudly where TRY_CAST gives
 * NULL, HAVING may name SELECT aliases and acts as WHERE without GROUP BY.
 */
const T0 = Date.UTC(2024, 0, 1);

describe('1. a zone-less time string is UTC, whatever the host zone', () => {
  const saved = process.env.TZ;
  beforeAll(() => {
    process.env.TZ = 'America/Los_Angeles';
  });
  afterAll(() => {
    if (saved === undefined) delete process.env.TZ;
    else process.env.TZ = saved;
  });

  it('TIMESTAMP BY, DATEDIFF and CAST read 2024-01-01T00:00:00 as 00:00Z under TZ=America/Los_Angeles', () => {
    // The host zone really is Los Angeles here: a local-time reading would be 8 hours off.
    expect(new Date(2024, 0, 1).getTimezoneOffset()).toBe(480);
    const { rows } = run(
      `SELECT System.Timestamp() AS ts, DATEDIFF(hour, '2024-01-01T00:00:00Z', t) AS h, CAST(t AS datetime) AS d
       FROM i TIMESTAMP BY t`,
      [{ t: '2024-01-01T00:00:00', arrivalTime: T0 }],
    );
    expect(rows.map((r) => plain(r))).toEqual([{ ts: '2024-01-01T00:00:00.000Z', h: 0, d: '2024-01-01T00:00:00.000Z' }]);
  });
});

describe('2. only ISO 8601 strings and epoch numbers are times', () => {
  it.each([
    ['2024-01-01', T0],
    ['2024-01-01T00:00', T0],
    ['2024-01-01T00:00:00', T0],
    ['2024-01-01 00:00:00', T0],
    ['2024-01-01T00:00:00.1234567Z', T0 + 123],
    ['2024-01-01T01:00:00+01:00', T0],
    ['2023-12-31T19:00:00-0500', T0],
    ['2024-01-01T05:30:00+05', T0 + 30 * 60_000],
    ['0050-03-01T00:00:00Z', Date.parse('0050-03-01T00:00:00Z')],
  ])('%s is a time', (text, ms) => {
    expect(parseIsoTime(text)).toBe(ms);
  });

  it.each(['sensor 3', 'room 12', '12', '2024', '2024-13-01', '2024-02-30T00:00:00Z', '2024-01-01T24:00:00', '2024-01-01T00:00:00 Z', '01/02/2024', 'Mon, 01 Jan 2024 00:00:00 GMT', ''])(
    '%j is not a time',
    (text) => {
      expect(parseIsoTime(text)).toBeNaN();
    },
  );

  it('a TIMESTAMP BY value that is not a time drops the event (counted) instead of opening a window in 2001', () => {
    const { rows, engine } = run('SELECT COUNT(*) AS n, System.Timestamp() AS e FROM i TIMESTAMP BY t GROUP BY TumblingWindow(minute, 1)', [
      { t: '2024-01-01T00:00:10Z', arrivalTime: T0 + 10_000 },
      { t: 'sensor 3', arrivalTime: T0 + 11_000 },
    ]);
    expect(rows.map((r) => plain(r))).toEqual([{ n: 1, e: '2024-01-01T00:01:00.000Z' }]);
    expect(engine.counters().q).toMatchObject({ inputEvents: 2, dropped: 1 });
  });

  it("DATEDIFF(day, '2024-01-01T00:00:00Z', 'room 12') is NULL, and so are DATEADD and DATEPART of it", () => {
    const { rows } = run(
      `SELECT DATEDIFF(day, '2024-01-01T00:00:00Z', room) AS d, DATEADD(day, 1, room) AS a, DATEPART(year, room) AS y,
              DATEDIFF(day, '2024-01-01T00:00:00Z', ok) AS ok FROM i`,
      [{ room: 'room 12', ok: '2024-01-03', arrivalTime: T0 }],
    );
    expect(rows.map((r) => plain(r))).toEqual([{ d: null, a: null, y: null, ok: 2 }]);
  });
});

describe('3. TIMESTAMP BY … OVER makes independent substreams, whatever GROUP BY says', () => {
  const evs = (): AnalyticsEvent[] => [
    { dev: 'B', t: '2024-01-01T00:01:00Z', arrivalTime: Date.parse('2024-01-01T00:01:00Z') },
    { dev: 'A', t: '2024-01-01T00:00:02Z', arrivalTime: Date.parse('2024-01-01T00:01:01Z') },
  ];

  it('without GROUP BY: A keeps 00:00:02 although B is a minute ahead', () => {
    const { rows, engine } = run('SELECT dev, System.Timestamp() AS ts FROM i TIMESTAMP BY t OVER dev', evs(), { lateArrivalMs: 120_000 });
    expect(rows.map((r) => plain(r))).toEqual([
      { dev: 'B', ts: '2024-01-01T00:01:00.000Z' },
      { dev: 'A', ts: '2024-01-01T00:00:02.000Z' },
    ]);
    expect(engine.counters().q).toMatchObject({ outOfOrder: 0, adjusted: 0 });
  });

  it('through a WITH step', () => {
    const { rows } = run(
      'WITH s AS (SELECT dev, System.Timestamp() AS ts FROM i TIMESTAMP BY t OVER dev) SELECT dev, ts FROM s',
      evs(),
      { lateArrivalMs: 120_000 },
    );
    expect(rows.map((r) => plain(r))).toEqual([
      { dev: 'B', ts: '2024-01-01T00:01:00.000Z' },
      { dev: 'A', ts: '2024-01-01T00:00:02.000Z' },
    ]);
  });

  it('a GROUP BY that combines devices: each device judged on its own timeline, the window closes at the slowest', () => {
    const ev = (dev: string, s: number, arr: number): AnalyticsEvent => ({ dev, t: new Date(T0 + s * 1000).toISOString(), arrivalTime: T0 + arr * 1000 });
    const evs = [ev('A', 1, 1), ev('A', 12, 12), ev('B', 2, 21), ev('A', 25, 25), ev('B', 13, 33)];
    const q = 'SELECT COUNT(*) AS n, System.Timestamp() AS e FROM i TIMESTAMP BY t OVER dev GROUP BY TumblingWindow(second, 10)';
    const { rows, engine } = run(q, evs, { lateArrivalMs: 60_000 });
    expect(rows.map((r) => plain(r))).toEqual([
      { n: 2, e: '2024-01-01T00:00:10.000Z' },
      { n: 2, e: '2024-01-01T00:00:20.000Z' },
      { n: 1, e: '2024-01-01T00:00:30.000Z' },
    ]);
    expect(engine.counters().q).toMatchObject({ outOfOrder: 0, adjusted: 0 });
    // Without OVER, B's clock (20 s behind) makes its readings out of order, adjusted into later windows.
    const plainRun = run(q.replace(' OVER dev', ''), evs, { lateArrivalMs: 60_000 });
    expect(plainRun.engine.counters().q!.adjusted).toBe(2);
  });

  it('a step grouped per device feeds a window over all devices at the slowest device’s watermark', () => {
    const ev = (dev: string, s: number, arr: number): AnalyticsEvent => ({ dev, t: new Date(T0 + s * 1000).toISOString(), arrivalTime: T0 + arr * 1000 });
    const { rows } = run(
      `WITH perDev AS (SELECT dev, COUNT(*) AS n FROM i TIMESTAMP BY t OVER dev GROUP BY dev, TumblingWindow(second, 10))
       SELECT SUM(n) AS total, System.Timestamp() AS e FROM perDev GROUP BY TumblingWindow(second, 10)`,
      // B's clock lags by 20 s; each device's first window closes on its own timeline.
      [ev('A', 1, 1), ev('A', 12, 12), ev('B', 2, 21), ev('A', 25, 25), ev('B', 13, 33), ev('A', 35, 35), ev('B', 26, 46)],
      { lateArrivalMs: 60_000 },
    );
    expect(rows.map((r) => plain(r))).toEqual([
      { total: 2, e: '2024-01-01T00:00:10.000Z' },
      { total: 2, e: '2024-01-01T00:00:20.000Z' },
      { total: 2, e: '2024-01-01T00:00:30.000Z' },
      { total: 1, e: '2024-01-01T00:00:40.000Z' },
    ]);
  });
});

describe('4. an event more than 5 minutes ahead of its arrival is dropped and moves no watermark', () => {
  it.each(['adjust', 'drop', 'revise'] as const)('under %s', (policy) => {
    const { rows, engine } = run(
      'SELECT v, System.Timestamp() AS ts FROM i TIMESTAMP BY t',
      [
        { v: 1, t: iso('00:06:00'), arrivalTime: at('00:00:50') },
        { v: 2, t: iso('00:00:51'), arrivalTime: at('00:00:51') },
      ],
      { lateArrivalMs: 5000, outOfOrderMs: 5000, policy },
      { flush: false },
    );
    expect(engine.watermarks().q).toBe(at('00:00:46'));
    engine.flush();
    expect(rows.map((r) => plain(r))).toEqual([{ v: 2, ts: iso('00:00:51') }]);
    expect(engine.counters().q).toMatchObject({ earlyInput: 1, dropped: 1, adjusted: 0 });
  });
});

describe('5. envelope fields never collide with a query’s columns', () => {
  it.each([
    ['SELECT COUNT(*) AS rev FROM i GROUP BY TumblingWindow(second, 1)', 8, 'rev'],
    ['SELECT a, v AS [Output] FROM i', 11, 'Output'],
    ['SELECT rev FROM i', 8, 'rev'],
  ])('%s is refused at compile time', (text, column, name) => {
    const err = refusalOf(text);
    expect(err.code).toBe('EDGE_QUERY_RESERVED_NAME');
    expect(err.column).toBe(column);
    expect(err.message).toContain(`'${name}' would collide`);
  });

  it('a WITH step may use such a name, since no envelope is added there', () => {
    expect(() => compileQuery('WITH s AS (SELECT v AS rev FROM i) SELECT rev AS r FROM s', 'q')).not.toThrow();
  });
});

describe('6. a failed CAST drops the event and counts a conversion error; TRY_CAST gives NULL', () => {
  it('without GROUP BY', () => {
    const { rows, engine } = run('SELECT CAST(v AS bigint) AS n, TRY_CAST(v AS bigint) AS m FROM i', [
      { v: 'abc', arrivalTime: T0 },
      { v: '42', arrivalTime: T0 + 1 },
    ]);
    expect(rows.map((r) => plain(r))).toEqual([{ n: 42, m: 42 }]);
    expect(engine.counters().q).toMatchObject({ conversionErrors: 1, dropped: 0 });
    const tried = run('SELECT TRY_CAST(v AS bigint) AS m FROM i', [{ v: 'abc', arrivalTime: T0 }]);
    expect(tried.rows.map((r) => plain(r))).toEqual([{ m: null }]);
  });

  it('in a window: the event counts nowhere, not in COUNT(*) either', () => {
    const { rows, engine } = run('SELECT COUNT(*) AS n, SUM(CAST(v AS bigint)) AS s FROM i GROUP BY TumblingWindow(second, 10)', [
      { v: '1', arrivalTime: T0 + 1 },
      { v: 'abc', arrivalTime: T0 + 2 },
      { v: '2', arrivalTime: T0 + 3 },
    ]);
    expect(rows.map((r) => plain(r))).toEqual([{ n: 2, s: 3 }]);
    expect(engine.counters().q!.conversionErrors).toBe(1);
  });

  it('in WHERE and in a window’s SELECT', () => {
    const { rows, engine } = run("SELECT CAST(MAX(v) AS bigint) AS top FROM i WHERE CAST(v AS float) > 0 GROUP BY k, TumblingWindow(second, 10)", [
      { k: 'a', v: 'x', arrivalTime: T0 + 1 },
      { k: 'a', v: '3', arrivalTime: T0 + 2 },
      { k: 'b', v: 'zz', arrivalTime: T0 + 3 },
    ]);
    // 'zz' fails in WHERE; 'x' too; group a's MAX is '3', which converts.
    expect(rows.map((r) => plain(r))).toEqual([{ top: 3 }]);
    expect(engine.counters().q!.conversionErrors).toBe(2);
  });
});

describe('7. HAVING may name SELECT aliases, and without GROUP BY it acts as WHERE', () => {
  it('HAVING [Count] >= 3', () => {
    const ev = (TollId: number, s: number): AnalyticsEvent => ({ TollId, arrivalTime: T0 + s * 1000 });
    const { rows } = run('SELECT TollId, COUNT(*) AS [Count] FROM Input GROUP BY TollId, TumblingWindow(second, 10) HAVING [Count] >= 3', [
      ev(1, 1), ev(1, 2), ev(2, 3), ev(1, 4), ev(2, 5),
    ]);
    expect(rows.map((r) => plain(r))).toEqual([{ TollId: 1, Count: 3 }]);
  });

  it('HAVING without GROUP BY filters events, after WHERE', () => {
    const { rows } = run('SELECT v, v * 10 AS big FROM i WHERE v < 5 HAVING big > 20', [1, 2, 3, 4, 5, 6].map((v) => ({ v, arrivalTime: T0 + v })));
    expect(rows.map((r) => plain(r))).toEqual([
      { v: 3, big: 30 },
      { v: 4, big: 40 },
    ]);
  });
});
