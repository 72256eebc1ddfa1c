import { describe, expect, it } from 'vitest';
import { compileQuery, type AnalyticsEvent, type Tolerances } from '../../../agent/analytics/index.js';
import { at, iso, plain, refusalOf, run } from './helpers.js';

/**
 * Stream–stream JOIN, table-driven from ASA's JOIN reference and query-pattern pages. A pair
 * matches when the DATEDIFF bound of ON holds between the two events' times and the rest of ON
 * holds; it is stamped with the later time (ASA: the earliest moment the result is known), and a
 * LEFT OUTER row without partner with the left time plus the bound's upper end. Expected rows are
 * written from those rules, never copied from the engine.
 */
interface Case {
  name: string;
  query: string;
  tolerances?: Partial<Tolerances>;
  /** [input, time (also the arrival time), fields]. */
  events: Array<[string, string, Record<string, unknown>]>;
  expected: Array<Record<string, unknown>>;
  /** Compare as a set: the order of pairs from one event follows arrival, not a documented rule. */
  unordered?: boolean;
}

const toll = (): Case['events'] => [
  ['EntryStream', '00:01:00', { TollId: 1, LicensePlate: 'JNB 7001', EntryTime: iso('00:01:00') }],
  ['EntryStream', '00:02:00', { TollId: 1, LicensePlate: 'YXZ 1001', EntryTime: iso('00:02:00') }],
  ['EntryStream', '00:03:00', { TollId: 3, LicensePlate: 'ABC 1004', EntryTime: iso('00:03:00') }],
  ['ExitStream', '00:05:00', { TollId: 1, LicensePlate: 'JNB 7001', ExitTime: iso('00:05:00') }],
  ['EntryStream', '00:06:00', { TollId: 2, LicensePlate: 'XYZ 1003', EntryTime: iso('00:06:00') }],
  ['ExitStream', '00:07:00', { TollId: 3, LicensePlate: 'ABC 1004', ExitTime: iso('00:07:00') }],
  // YXZ 1001 leaves 20 minutes after entering: beyond the 15-minute bound.
  ['ExitStream', '00:22:00', { TollId: 1, LicensePlate: 'YXZ 1001', ExitTime: iso('00:22:00') }],
];

const cars = (): Case['events'] => [
  ['Input', '00:00:05', { LicensePlate: 'DXE 5291', Make: 'Make1' }],
  ['Input', '00:02:06', { LicensePlate: 'YZK 5704', Make: 'Make3' }],
  ['Input', '00:05:01', { LicensePlate: 'RMV 8282', Make: 'Make1' }],
  ['Input', '00:06:00', { LicensePlate: 'YHN 6970', Make: 'Make2' }],
  ['Input', '00:09:31', { LicensePlate: 'VFE 1616', Make: 'Make2' }],
  ['Input', '00:12:02', { LicensePlate: 'QYF 9358', Make: 'Make1' }],
  ['Input', '00:13:45', { LicensePlate: 'MDR 6128', Make: 'Make4' }],
].map(([input, t, f]) => [input as string, t as string, { ...(f as Record<string, unknown>), Time: iso(t as string) }]);

const cases: Case[] = [
  {
    // JOIN reference: entry and exit of the same car at the same booth within 15 minutes.
    name: 'two inputs: INNER JOIN on keys and DATEDIFF(minute, entry, exit) BETWEEN 0 AND 15',
    query: `SELECT TollBoothEntry.TollId, TollBoothEntry.EntryTime, TollBoothExit.ExitTime, TollBoothEntry.LicensePlate,
                   DATEDIFF(minute, TollBoothEntry, TollBoothExit) AS Duration, System.Timestamp() AS t
            FROM EntryStream TollBoothEntry TIMESTAMP BY EntryTime
            JOIN ExitStream TollBoothExit TIMESTAMP BY ExitTime
            ON TollBoothEntry.TollId = TollBoothExit.TollId AND TollBoothEntry.LicensePlate = TollBoothExit.LicensePlate
               AND DATEDIFF(minute, TollBoothEntry, TollBoothExit) BETWEEN 0 AND 15`,
    events: toll(),
    expected: [
      { TollId: 1, EntryTime: iso('00:01:00'), ExitTime: iso('00:05:00'), LicensePlate: 'JNB 7001', Duration: 4, t: iso('00:05:00') },
      { TollId: 3, EntryTime: iso('00:03:00'), ExitTime: iso('00:07:00'), LicensePlate: 'ABC 1004', Duration: 4, t: iso('00:07:00') },
    ],
  },
  {
    // JOIN reference: LEFT OUTER JOIN … WHERE right IS NULL finds the cars that have not left within 15 minutes.
    name: 'two inputs: LEFT OUTER JOIN with WHERE … IS NULL, stamped entry + 15 min',
    query: `SELECT TollBoothEntry.TollId, TollBoothEntry.LicensePlate, System.Timestamp() AS t
            FROM EntryStream TollBoothEntry TIMESTAMP BY EntryTime
            LEFT OUTER JOIN ExitStream TollBoothExit TIMESTAMP BY ExitTime
            ON TollBoothEntry.TollId = TollBoothExit.TollId AND TollBoothEntry.LicensePlate = TollBoothExit.LicensePlate
               AND DATEDIFF(minute, TollBoothEntry, TollBoothExit) BETWEEN 0 AND 15
            WHERE TollBoothExit.TollId IS NULL`,
    events: toll(),
    expected: [
      { TollId: 1, LicensePlate: 'YXZ 1001', t: iso('00:17:00') },
      { TollId: 2, LicensePlate: 'XYZ 1003', t: iso('00:21:00') },
    ],
  },
  {
    // Query patterns, "Detect the absence of events": a sensor reading not followed by another one of the same sensor within 1–5 s.
    name: 'self-join: LEFT OUTER JOIN input t1 … input t2, DATEDIFF(second, t1, t2) BETWEEN 1 AND 5, t2 IS NULL',
    query: `SELECT t1.time, t1.dspl AS SensorName, System.Timestamp() AS detected
            FROM input t1 TIMESTAMP BY time
            LEFT OUTER JOIN input t2 TIMESTAMP BY time
            ON t1.dspl = t2.dspl AND DATEDIFF(second, t1, t2) BETWEEN 1 AND 5
            WHERE t2.dspl IS NULL`,
    events: [
      ['input', '00:00:01', { dspl: 'sensorA' }],
      ['input', '00:00:02', { dspl: 'sensorB' }],
      ['input', '00:00:03', { dspl: 'sensorA' }],
      ['input', '00:00:06', { dspl: 'sensorB' }],
      ['input', '00:00:15', { dspl: 'sensorA' }],
      ['input', '00:00:16', { dspl: 'sensorB' }],
    ].map(([i, t, f]) => [i as string, t as string, { ...(f as Record<string, unknown>), time: iso(t as string) }]),
    // A at 3 has nothing in (4, 8]: detected at 8; B at 6 at 11; then A at 15 and B at 16 at flush.
    expected: [
      { time: iso('00:00:03'), SensorName: 'sensorA', detected: iso('00:00:08') },
      { time: iso('00:00:06'), SensorName: 'sensorB', detected: iso('00:00:11') },
      { time: iso('00:00:15'), SensorName: 'sensorA', detected: iso('00:00:20') },
      { time: iso('00:00:16'), SensorName: 'sensorB', detected: iso('00:00:21') },
    ],
  },
  {
    // Query patterns, "Retrieve the last event in a window": a WITH step joined back to its input.
    name: 'input joined with a WITH step: the last event of every 10-minute window',
    query: `WITH LastInWindow AS (SELECT MAX(Time) AS LastEventTime FROM Input TIMESTAMP BY Time GROUP BY TumblingWindow(minute, 10))
            SELECT Input.LicensePlate, Input.Make, Input.Time
            FROM Input TIMESTAMP BY Time
            INNER JOIN LastInWindow ON DATEDIFF(minute, Input, LastInWindow) BETWEEN 0 AND 10 AND Input.Time = LastInWindow.LastEventTime`,
    events: cars(),
    expected: [
      { LicensePlate: 'VFE 1616', Make: 'Make2', Time: iso('00:09:31') },
      { LicensePlate: 'MDR 6128', Make: 'Make4', Time: iso('00:13:45') },
    ],
  },
  {
    name: 'the bound written reversed and as comparisons: DATEDIFF(second, b, a) >= -2 AND DATEDIFF(second, b, a) < 0',
    query: `SELECT a.n AS an, b.n AS bn FROM input a JOIN input b
            ON DATEDIFF(second, b, a) >= -2 AND DATEDIFF(second, b, a) < 0 AND a.k = b.k`,
    // b must come 1 ms to 2 s after a.
    events: [
      ['input', '00:00:01', { n: 1, k: 'x' }],
      ['input', '00:00:02', { n: 2, k: 'x' }],
      ['input', '00:00:03', { n: 3, k: 'x' }],
      ['input', '00:00:03', { n: 4, k: 'y' }],
      ['input', '00:00:06', { n: 5, k: 'x' }],
    ],
    unordered: true,
    expected: [
      { an: 1, bn: 2 },
      { an: 1, bn: 3 },
      { an: 2, bn: 3 },
    ],
  },
  {
    name: 'a JOIN feeding a window: matched pairs counted per tumbling window',
    query: `SELECT COUNT(*) AS pairs, System.Timestamp() AS e
            FROM EntryStream en TIMESTAMP BY EntryTime JOIN ExitStream ex TIMESTAMP BY ExitTime
            ON en.LicensePlate = ex.LicensePlate AND DATEDIFF(minute, en, ex) BETWEEN 0 AND 30
            GROUP BY TumblingWindow(minute, 10)`,
    events: toll(),
    // Pairs are stamped with the exit: 00:05, 00:07 and 00:22.
    expected: [
      { pairs: 2, e: iso('00:10:00') },
      { pairs: 1, e: iso('00:30:00') },
    ],
  },
];

function events(list: Case['events']): AnalyticsEvent[] {
  return list.map(([input, t, fields]) => ({ input, ...fields, arrivalTime: at(t) }));
}

const sorted = (rows: Array<Record<string, unknown>>) => [...rows].sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1));

describe('stream–stream JOIN (ASA JOIN reference and query patterns)', () => {
  it.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const { rows } = run(c.query, events(c.events), c.tolerances ?? { lateArrivalMs: 60_000 });
    const got = rows.map((r) => plain(r));
    if (c.unordered) expect(sorted(got)).toEqual(sorted(c.expected));
    else expect(got).toEqual(c.expected);
  });

  it('keeps an event only until no partner can come, and checkpoints the buffers', () => {
    const q = compileQuery('SELECT a.n AS an, b.n AS bn FROM input a JOIN input b ON a.k = b.k AND DATEDIFF(second, a, b) BETWEEN 1 AND 10', 'q');
    const evs: AnalyticsEvent[] = Array.from({ length: 300 }, (_, i) => ({ input: 'input', k: `k${i % 3}`, n: i, arrivalTime: at('00:00:00') + i * 1000 }));
    const { rows, engine } = run(q.text, evs, { lateArrivalMs: 0 }, { flush: false });
    // Every event pairs with the next 3 of its key that come 3, 6 and 9 s later; only the last ~10 s are held.
    const saved = JSON.stringify(engine.checkpoint());
    expect(saved.length).toBeLessThan(6000);
    expect(rows.filter((r) => r.row.an === 150).map((r) => r.row.bn)).toEqual([153, 156, 159]);
  });

  it.each([
    ['SELECT a.x FROM input a JOIN input b ON a.k = b.k', 'needs a time bound'],
    ['SELECT x FROM input JOIN input ON DATEDIFF(second, input, input) BETWEEN 0 AND 1', 'give each an alias'],
    ['SELECT * FROM input a JOIN input b ON DATEDIFF(second, a, b) BETWEEN 0 AND 1', 'SELECT * cannot be used with JOIN'],
    ['SELECT a.x FROM input a JOIN input b ON DATEDIFF(day, a, b) BETWEEN 0 AND 8', 'at most 7 days'],
    ['SELECT a.x FROM input a JOIN input b ON DATEDIFF(second, a, b) BETWEEN 5 AND 1', 'bound is empty'],
  ])('refuses %s', (text, reason) => {
    expect(refusalOf(text).message).toContain(reason);
  });

  it('counts the events of an input the query does not read', () => {
    const { engine } = run(
      'SELECT en.LicensePlate FROM EntryStream en TIMESTAMP BY EntryTime JOIN ExitStream ex TIMESTAMP BY ExitTime ON en.LicensePlate = ex.LicensePlate AND DATEDIFF(minute, en, ex) BETWEEN 0 AND 15',
      [...events(toll()), { input: 'Elsewhere', EntryTime: iso('00:30:00'), arrivalTime: at('00:30:00') }, { source: 'ExitStream', ExitTime: iso('00:30:01'), arrivalTime: at('00:30:01') }],
    );
    // The last event has no input field: its source names an input of the query.
    expect(engine.counters().q).toMatchObject({ inputEvents: 9, unmatchedInput: 1 });
  });

  it('names a three-way JOIN as unsupported', () => {
    expect(() => compileQuery('SELECT a.x FROM i a JOIN i b ON DATEDIFF(s, a, b) BETWEEN 0 AND 1 JOIN i c ON DATEDIFF(s, a, c) BETWEEN 0 AND 1', 'q')).toThrow(/unsupported: a JOIN of more than two inputs/);
  });
});

describe('named inputs given by the engine', () => {
  it('a FROM name listed in EngineOptions.inputs reads the events its filter accepts', async () => {
    const { AnalyticsEngine } = await import('../../../agent/analytics/index.js');
    const rows: Array<Record<string, unknown>> = [];
    const engine = new AnalyticsEngine({
      queries: [compileQuery('SELECT p.value AS pressure FROM pressures p WHERE p.value > 1', 'q')],
      // A point set from configuration: the pressure points of any device.
      inputs: { pressures: (ev) => typeof ev.point === 'string' && ev.point.startsWith('p') },
      onResult: (r) => rows.push(r.row),
    });
    engine.push({ source: 'plc1', point: 'p1', value: 2, arrivalTime: 1 });
    engine.push({ source: 'plc1', point: 't1', value: 9, arrivalTime: 2 });
    engine.push({ source: 'plc2', point: 'p7', value: 3, arrivalTime: 3 });
    engine.flush();
    expect(rows).toEqual([{ pressure: 2 }, { pressure: 3 }]);
    expect(engine.counters().q!.unmatchedInput).toBe(1);
  });
});
