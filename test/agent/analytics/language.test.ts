import { describe, expect, it } from 'vitest';
import { compileQuery, type AnalyticsEvent } from '../../../agent/analytics/index.js';
import { at, iso, plain, run } from './helpers.js';

/**
 * LIKE, CROSS APPLY GetArrayElements/GetRecordProperties and UNION, from the examples of ASA's
 * query-pattern and "parse JSON" pages. Expected rows are written from the documented meaning.
 */
const ev = (t: string, fields: Record<string, unknown>): AnalyticsEvent => ({ Time: iso(t), ...fields, arrivalTime: at(t) });

describe('LIKE', () => {
  it("query patterns, 'Using LIKE/NOT LIKE': license plates that start with A and end with 9", () => {
    const evs = [
      ev('00:00:01', { Make: 'Make1', LicensePlate: 'ABC-123' }),
      ev('00:00:02', { Make: 'Make2', LicensePlate: 'AAA-999' }),
      ev('00:00:03', { Make: 'Make3', LicensePlate: 'ABC-369' }),
    ];
    const { rows } = run("SELECT * FROM Input TIMESTAMP BY Time WHERE LicensePlate LIKE 'A%9'", evs);
    expect(rows.map((r) => plain(r))).toEqual([
      { Time: iso('00:00:02'), Make: 'Make2', LicensePlate: 'AAA-999' },
      { Time: iso('00:00:03'), Make: 'Make3', LicensePlate: 'ABC-369' },
    ]);
  });

  it.each([
    ['ABC-123', 'ABC-___', true],
    ['ABC-12', 'ABC-___', false],
    ['B7', '[A-C][0-9]', true],
    ['D7', '[A-C][0-9]', false],
    ['D7', '[^A-C]7', true],
    ['a.b', 'a.b', true],
    ['axb', 'a.b', false],
    ['100%', '100[%]', true],
    ['abc', 'ABC', false],
  ])('%j LIKE %j is %j, NOT LIKE the opposite', (value, pattern, hit) => {
    const { rows } = run(`SELECT v LIKE '${pattern}' AS yes, v NOT LIKE '${pattern}' AS no, v LIKE p AS dyn FROM i`, [{ v: value, p: pattern, arrivalTime: 0 }]);
    expect(rows[0]!.row).toEqual({ yes: hit, no: !hit, dyn: hit });
  });

  it('NULL LIKE anything is NULL', () => {
    const { rows } = run("SELECT v LIKE 'a%' AS m FROM i", [{ arrivalTime: 0 }]);
    expect(rows[0]!.row).toEqual({ m: null });
  });
});

describe('CROSS APPLY', () => {
  it("GetArrayElements: one row per element, with ArrayIndex and ArrayValue (ASA 'parse JSON' page)", () => {
    const { rows } = run(
      `SELECT event.DeviceId, arrayElement.ArrayIndex, arrayElement.ArrayValue
       FROM input AS event TIMESTAMP BY Time CROSS APPLY GetArrayElements(event.SensorReadings) AS arrayElement`,
      [ev('00:00:01', { DeviceId: 'd1', SensorReadings: [20, 21.5] }), ev('00:00:02', { DeviceId: 'd2', SensorReadings: [] }), ev('00:00:03', { DeviceId: 'd3', SensorReadings: 'n/a' })],
    );
    expect(rows.map((r) => plain(r))).toEqual([
      { DeviceId: 'd1', ArrayIndex: 0, ArrayValue: 20 },
      { DeviceId: 'd1', ArrayIndex: 1, ArrayValue: 21.5 },
    ]);
  });

  it('GetRecordProperties: one row per property, aggregated per window', () => {
    const { rows } = run(
      `SELECT p.PropertyName AS sensor, AVG(p.PropertyValue) AS avg
       FROM input TIMESTAMP BY Time CROSS APPLY GetRecordProperties(readings) AS p
       GROUP BY p.PropertyName, TumblingWindow(second, 10)`,
      [ev('00:00:01', { readings: { temp: 20, rh: 40 } }), ev('00:00:02', { readings: { temp: 22 } })],
    );
    expect(rows.map((r) => plain(r))).toEqual([
      { sensor: 'rh', avg: 40 },
      { sensor: 'temp', avg: 21 },
    ]);
  });
});

describe('UNION', () => {
  it('combines the rows of several SELECTs into one output, keeping every row', () => {
    const { rows } = run(
      `SELECT v AS x, 'low' AS kind FROM input TIMESTAMP BY Time WHERE v < 5
       UNION
       SELECT v * 10, 'high' FROM input TIMESTAMP BY Time WHERE v >= 3`,
      [ev('00:00:01', { v: 1 }), ev('00:00:02', { v: 4 }), ev('00:00:03', { v: 9 })],
    );
    expect(rows.map((r) => [r.output, plain(r)])).toEqual([
      ['output', { x: 1, kind: 'low' }],
      ['output', { x: 4, kind: 'low' }],
      ['output', { x: 40, kind: 'high' }],
      ['output', { x: 90, kind: 'high' }],
    ]);
  });

  it('a WITH step that is a UNION of two inputs, windowed downstream at the slower branch', () => {
    const { rows } = run(
      `WITH both AS (
         SELECT temp AS v FROM plcA TIMESTAMP BY Time
         UNION ALL
         SELECT temperature AS v FROM plcB TIMESTAMP BY Time
       )
       SELECT COUNT(*) AS n, MAX(v) AS top, System.Timestamp() AS e FROM both GROUP BY TumblingWindow(second, 10)`,
      [
        { input: 'plcA', ...ev('00:00:01', { temp: 20 }) },
        { input: 'plcA', ...ev('00:00:12', { temp: 21 }) },
        // plcB lags: its 00:00:05 reading still belongs to the first window.
        { input: 'plcB', ...ev('00:00:05', { temperature: 30 }), arrivalTime: at('00:00:13') },
        { input: 'plcB', ...ev('00:00:14', { temperature: 25 }) },
      ],
      { lateArrivalMs: 60_000 },
    );
    expect(rows.map((r) => plain(r))).toEqual([
      { n: 2, top: 30, e: iso('00:00:10') },
      { n: 2, top: 25, e: iso('00:00:20') },
    ]);
  });

  it('refuses branches of different widths', () => {
    expect(() => compileQuery('SELECT a, b FROM i UNION SELECT a FROM i', 'q')).toThrow(/every SELECT of a UNION must give the same 2 columns/);
  });
});

describe('Windows(): several windows in one GROUP BY', () => {
  it("each window gives its own rows, named by System.Window().Id (ASA's Windows() reference)", () => {
    const evs = [1, 4, 12, 25].map((s) => ev(`00:00:${String(s).padStart(2, '0')}`, { dev: 'a' }));
    const { rows } = run(
      `SELECT System.Window().Id AS w, dev, COUNT(*) AS n, System.Timestamp() AS e
       FROM input TIMESTAMP BY Time
       GROUP BY dev, Windows(Window('10 s', TumblingWindow(second, 10)), Window('30 s', TumblingWindow(second, 30)))`,
      evs,
    );
    const byWindow = (id: string) => rows.map((r) => plain(r)).filter((r) => r.w === id);
    expect(byWindow('10 s')).toEqual([
      { w: '10 s', dev: 'a', n: 2, e: iso('00:00:10') },
      { w: '10 s', dev: 'a', n: 1, e: iso('00:00:20') },
      { w: '10 s', dev: 'a', n: 1, e: iso('00:00:30') },
    ]);
    expect(byWindow('30 s')).toEqual([{ w: '30 s', dev: 'a', n: 4, e: iso('00:00:30') }]);
    expect(rows).toHaveLength(4);
  });

  it('windows without ids, and a hopping one beside a tumbling one', () => {
    const { rows } = run(
      'SELECT COUNT(*) AS n, System.Timestamp() AS e FROM input TIMESTAMP BY Time GROUP BY Windows(TumblingWindow(second, 10), HoppingWindow(second, 10, 5))',
      [ev('00:00:01', {}), ev('00:00:07', {})],
    );
    expect(rows.map((r) => plain(r)).sort((a, b) => String(a.e).localeCompare(String(b.e)) || Number(a.n) - Number(b.n))).toEqual([
      { n: 1, e: iso('00:00:05') },
      { n: 2, e: iso('00:00:10') },
      { n: 2, e: iso('00:00:10') },
      { n: 1, e: iso('00:00:15') },
    ]);
  });

  it('refuses a window id used twice', () => {
    expect(() => compileQuery("SELECT COUNT(*) AS n FROM i GROUP BY Windows(Window('a', TumblingWindow(s, 1)), Window('a', TumblingWindow(s, 2)))", 'q')).toThrow(/window id 'a' is used twice/);
  });
});
