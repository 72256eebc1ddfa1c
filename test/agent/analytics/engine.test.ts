import { describe, expect, it } from 'vitest';
import { AnalyticsEngine, compileQuery, eventFromReading, toResultRecord, type ResultRow } from '../../../agent/analytics/index.js';
import { isEdgeError } from '../../../agent/core/errors.js';
import type { StampedReading } from '../../../agent/core/reading.js';
import { at, iso, plain, run } from './helpers.js';

const TUMBLING_10S = 'SELECT source, System.Timestamp() AS t, COUNT(*) AS n FROM input TIMESTAMP BY ts GROUP BY source, TumblingWindow(second, 10)';

describe('AnalyticsEngine', () => {
  it('emits a window only once the watermark has passed its end', () => {
    const rows: ResultRow[] = [];
    const engine = new AnalyticsEngine({ queries: [compileQuery(TUMBLING_10S, 'q')], tolerances: { lateArrivalMs: 0 }, onResult: (r) => rows.push(r) });
    engine.push({ ts: iso('00:00:05'), arrivalTime: at('00:00:05'), source: 'a' });
    engine.push({ ts: iso('00:00:10'), arrivalTime: at('00:00:10'), source: 'a' });
    // Watermark 00:00:10 equals the end: another event at 00:00:10 may still come.
    expect(rows).toEqual([]);
    engine.push({ ts: iso('00:00:10'), arrivalTime: at('00:00:10'), source: 'a' });
    engine.push({ ts: iso('00:00:10.001'), arrivalTime: at('00:00:10.001'), source: 'a' });
    expect(rows.map((r) => plain(r))).toEqual([{ source: 'a', t: iso('00:00:10'), n: 3 }]);
    expect(rows[0]).toMatchObject({ query: 'q', output: 'output', windowStart: at('00:00:00'), windowEnd: at('00:00:10'), key: '["a"]', rev: 0 });
  });

  it('a silent partition holds results back by at most L behind the newest arrival (idle-partition rule)', () => {
    const rows: ResultRow[] = [];
    const engine = new AnalyticsEngine({
      queries: [compileQuery(TUMBLING_10S, 'q')],
      tolerances: { lateArrivalMs: 5000, outOfOrderMs: 60_000 },
      onResult: (r) => rows.push(r),
    });
    engine.push({ ts: iso('00:00:00.5'), arrivalTime: at('00:00:00.5'), source: 'quiet' });
    for (let s = 1; s <= 30; s++) engine.push({ ts: iso(`00:00:${String(s).padStart(2, '0')}`), arrivalTime: at(`00:00:${String(s).padStart(2, '0')}`), source: 'busy' });
    // Partition watermarks would be 00:00:00.5 − O and 00:00:30 − O; the arrival rule lifts both to 00:00:25.
    expect(engine.watermarks().q).toBe(at('00:00:25'));
    expect(rows.map((r) => plain(r))).toEqual([
      { source: 'busy', t: iso('00:00:10'), n: 10 },
      { source: 'quiet', t: iso('00:00:10'), n: 1 },
      { source: 'busy', t: iso('00:00:20'), n: 10 },
    ]);
    engine.advance(at('00:00:45'));
    expect(rows.map((r) => plain(r)).slice(3)).toEqual([{ source: 'busy', t: iso('00:00:30'), n: 10 }]);
    expect(engine.counters().q!.watermarkDelayMs).toBe(5000);
  });

  it('with OVER keys in GROUP BY (ASA substreams), a silent device does not hold back another at all', () => {
    const rows: ResultRow[] = [];
    const engine = new AnalyticsEngine({
      queries: [compileQuery('SELECT deviceId, COUNT(*) AS n FROM input TIMESTAMP BY ts OVER deviceId GROUP BY deviceId, TumblingWindow(second, 10)', 'q')],
      tolerances: { lateArrivalMs: 600_000 },
      onResult: (r) => rows.push(r),
    });
    engine.push({ ts: iso('00:00:00.5'), arrivalTime: at('00:00:00.5'), deviceId: 'quiet' });
    for (let s = 1; s <= 21; s++) engine.push({ ts: iso(`00:00:${String(s).padStart(2, '0')}`), arrivalTime: at(`00:00:${String(s).padStart(2, '0')}`), deviceId: 'busy' });
    // Without substreams the shared watermark would sit at the quiet device's 00:00:00.5 (L is 10 min).
    expect(rows.map((r) => plain(r))).toEqual([
      { deviceId: 'busy', n: 10 },
      { deviceId: 'busy', n: 10 },
    ]);
    engine.flush();
    expect(rows.map((r) => plain(r)).slice(2)).toEqual([
      { deviceId: 'quiet', n: 1 },
      { deviceId: 'busy', n: 1 },
    ]);
  });

  it('counts late, out-of-order, early, adjusted and dropped input', () => {
    const { engine, rows } = run(
      'SELECT COUNT(*) AS n FROM input TIMESTAMP BY ts GROUP BY TumblingWindow(second, 10)',
      [
        { ts: iso('00:01:00'), arrivalTime: at('00:01:00') },
        { ts: iso('00:00:10'), arrivalTime: at('00:01:01') }, // late (L = 5 s) → 00:00:56, then still out of order → 00:01:00
        { ts: iso('00:00:59'), arrivalTime: at('00:01:01') }, // out of order (O = 0): adjusted
        { ts: iso('00:20:00'), arrivalTime: at('00:01:02') }, // early: more than 5 min ahead → dropped (ASA), under adjust too
        { ts: 'not a time', arrivalTime: at('00:01:03') }, // dropped
      ],
      { lateArrivalMs: 5000 },
    );
    expect(engine.counters().q).toMatchObject({ inputEvents: 5, lateInput: 1, outOfOrder: 2, earlyInput: 1, adjusted: 2, dropped: 2, conversionErrors: 0, revised: 0 });
    expect(rows.map((r) => [r.windowEnd, r.row.n])).toEqual([[at('00:01:00'), 3]]);
  });

  it('revise: a group new to a closed window comes out with rev 0, a known one with rev + 1; revised is counted', () => {
    const { rows, engine } = run(
      'SELECT k, COUNT(*) AS n FROM input TIMESTAMP BY ts GROUP BY k, TumblingWindow(second, 10)',
      [
        { ts: iso('00:00:01'), arrivalTime: at('00:00:01'), k: 'a' },
        { ts: iso('00:00:30'), arrivalTime: at('00:00:30'), k: 'a' },
        { ts: iso('00:00:02'), arrivalTime: at('00:00:31'), k: 'b' },
        { ts: iso('00:00:03'), arrivalTime: at('00:00:31'), k: 'a' },
        { ts: iso('00:00:04'), arrivalTime: at('00:00:32'), k: 'a' },
      ],
      { policy: 'revise', allowedLatenessMs: 3_600_000 },
    );
    expect(rows.map((r) => [r.windowEnd, r.key, r.rev, r.row.n])).toEqual([
      [at('00:00:10'), '["a"]', 0, 1],
      [at('00:00:10'), '["b"]', 0, 1],
      [at('00:00:10'), '["a"]', 1, 2],
      [at('00:00:10'), '["a"]', 2, 3],
      [at('00:00:30'), '["a"]', 0, 1],
    ]);
    expect(engine.counters().q!.revised).toBe(2);
  });

  it('revise on a hopping window re-emits every closed window that holds the late event', () => {
    const { rows } = run(
      'SELECT COUNT(*) AS n FROM input TIMESTAMP BY ts GROUP BY HoppingWindow(second, 10, 5)',
      [
        { ts: iso('00:00:06'), arrivalTime: at('00:00:06') },
        { ts: iso('00:00:21'), arrivalTime: at('00:00:21') },
        { ts: iso('00:00:07'), arrivalTime: at('00:00:22') },
      ],
      { policy: 'revise', allowedLatenessMs: 60_000 },
    );
    expect(rows.map((r) => [r.windowEnd, r.rev, r.row.n])).toEqual([
      [at('00:00:10'), 0, 1],
      [at('00:00:15'), 0, 1],
      [at('00:00:10'), 1, 2],
      [at('00:00:15'), 1, 2],
      [at('00:00:25'), 0, 1],
      [at('00:00:30'), 0, 1],
    ]);
  });

  it('throws EDGE_QUERY_STATE_LIMIT naming the query when its state bound is hit', () => {
    const engine = new AnalyticsEngine({ queries: [compileQuery(TUMBLING_10S, 'per-source-counts')], maxStateEntries: 5 });
    let caught: unknown;
    try {
      for (let i = 0; i < 10; i++) engine.push({ ts: iso('00:00:01'), arrivalTime: at('00:00:01'), source: `s${i}` });
    } catch (err) {
      caught = err;
    }
    expect(isEdgeError(caught, 'EDGE_QUERY_STATE_LIMIT')).toBe(true);
    expect((caught as Error).message).toContain("query 'per-source-counts'");
  });

  it('runs several queries at once, each with its own results', () => {
    const rows: ResultRow[] = [];
    const engine = new AnalyticsEngine({
      queries: [compileQuery('SELECT COUNT(*) AS n FROM input GROUP BY TumblingWindow(second, 10)', 'count'), compileQuery('SELECT MAX(value) AS m FROM input GROUP BY TumblingWindow(second, 5)', 'max')],
      onResult: (r) => rows.push(r),
    });
    for (let s = 1; s <= 9; s++) engine.push({ arrivalTime: at(`00:00:0${s}`), value: s });
    engine.flush();
    // 'max' closes its first window while events still come; flush closes the rest, query by query.
    expect(rows.map((r) => [r.query, r.windowEnd, r.row])).toEqual([
      ['max', at('00:00:05'), { m: 5 }],
      ['count', at('00:00:10'), { n: 9 }],
      ['max', at('00:00:10'), { m: 9 }],
    ]);
  });

  it('takes StampedReadings as they are and turns rows into ResultRecords without seq', () => {
    const reading: StampedReading = { source: 'plc1', point: 'temp', value: 21.5, quality: 'good', receivedAt: at('00:00:01'), appTime: at('00:00:01'), arrivalTime: at('00:00:01.2') };
    const engine = new AnalyticsEngine({
      queries: [compileQuery('SELECT point, AVG(value) AS avg, System.Timestamp() AS t FROM readings TIMESTAMP BY appTime GROUP BY point, TumblingWindow(minute, 1)', 'avg1m')],
    });
    engine.push(eventFromReading(reading));
    engine.flush();
    const [row] = engine.drain();
    expect(toResultRecord(row!)).toEqual({ kind: 'result', t: at('00:01:00'), query: 'avg1m', out: 'output', ws: at('00:00:00'), we: at('00:01:00'), key: '["temp"]', rev: 0, row: { point: 'temp', avg: 21.5, t: at('00:01:00') } });
  });

  it('checkpoints to plain JSON and restores into identical output', () => {
    const q = compileQuery('SELECT k, COUNT(*) AS n, MAX(d) AS last FROM input TIMESTAMP BY ts GROUP BY k, HoppingWindow(second, 10, 5)', 'q');
    const evs = [1, 2, 4, 7, 9, 12, 3, 15].map((s, i) => ({ ts: iso(`00:00:${String(s).padStart(2, '0')}`), arrivalTime: at('00:00:00') + i * 1000, k: i % 2 ? 'x' : 'y', d: new Date(at('00:00:00') + s) }));
    const tol = { outOfOrderMs: 5000, lateArrivalMs: 60_000 };
    const whole = new AnalyticsEngine({ queries: [q], tolerances: tol });
    evs.forEach((e) => whole.push(e));
    whole.flush();
    const first = new AnalyticsEngine({ queries: [q], tolerances: tol });
    evs.slice(0, 5).forEach((e) => first.push(e));
    const saved = JSON.parse(JSON.stringify(first.checkpoint())) as ReturnType<typeof first.checkpoint>;
    const second = new AnalyticsEngine({ queries: [q], tolerances: tol });
    second.restore(saved);
    evs.slice(5).forEach((e) => second.push(e));
    second.flush();
    expect([...first.drain(), ...second.drain()]).toEqual(whole.drain());
    expect(second.counters()).toEqual(whole.counters());
  });

  it('rejects bad tolerances with a message a technician understands', () => {
    expect(() => new AnalyticsEngine({ queries: [compileQuery(TUMBLING_10S, 'q')], tolerances: { outOfOrderMs: -1 } })).toThrow(/outOfOrderMs must be a duration/);
  });
});

describe('field names', () => {
  it('match case-insensitively, as in ASA, preferring the exact spelling', () => {
    const { rows } = run('SELECT Temp AS t, reading.VALUE AS v, exact FROM input TIMESTAMP BY TS', [
      { ts: iso('00:00:01'), arrivalTime: at('00:00:01'), temp: 20, reading: { value: 3 }, exact: 1, EXACT: 2 },
    ]);
    expect(rows.map((r) => r.row)).toEqual([{ t: 20, v: 3, exact: 1 }]);
  });
});

describe('checkpoint across a configuration change', () => {
  it('resumes unchanged queries and starts a changed one empty', () => {
    const keep = compileQuery('SELECT COUNT(*) AS n FROM input GROUP BY TumblingWindow(second, 10)', 'keep');
    const old = compileQuery('SELECT COUNT(*) AS n FROM input GROUP BY TumblingWindow(second, 10)', 'change');
    const before = new AnalyticsEngine({ queries: [keep, old] });
    for (let s = 1; s <= 3; s++) before.push({ arrivalTime: at(`00:00:0${s}`) });
    const saved = JSON.parse(JSON.stringify(before.checkpoint())) as ReturnType<typeof before.checkpoint>;

    const changed = compileQuery('SELECT COUNT(*) AS n FROM input GROUP BY TumblingWindow(second, 5)', 'change');
    const after = new AnalyticsEngine({ queries: [keep, changed] });
    expect(after.restore(saved)).toEqual({ resumed: ['keep'], reset: ['change'] });
    after.push({ arrivalTime: at('00:00:04') });
    after.flush();
    expect(after.drain().map((r) => [r.query, r.row.n])).toEqual([
      ['keep', 4],
      ['change', 1],
    ]);
    expect(after.counters().keep!.inputEvents).toBe(4);
  });
});

describe('input checks and bounds', () => {
  it('rejects an event without a numeric arrivalTime as a programming error', () => {
    const engine = new AnalyticsEngine({ queries: [compileQuery(TUMBLING_10S, 'q')] });
    expect(() => engine.push({ ts: iso('00:00:01') } as unknown as Parameters<typeof engine.push>[0])).toThrow(TypeError);
  });

  it('counts events held for re-sorting against the state bound', () => {
    const engine = new AnalyticsEngine({
      queries: [compileQuery('SELECT v FROM input TIMESTAMP BY ts', 'held-rows')],
      tolerances: { outOfOrderMs: 3_600_000, lateArrivalMs: 86_400_000 },
      maxStateEntries: 3,
    });
    const push = (s: number) => engine.push({ ts: iso(`00:00:0${s}`), arrivalTime: at('00:00:00'), v: s });
    push(1);
    push(2);
    push(3);
    expect(() => push(4)).toThrow(/query 'held-rows' needs more than 3 state entries/);
  });
});

describe('logging', () => {
  it('traces adjusted and dropped events at debug level, naming the rule and the final time', async () => {
    const { createRootLogger } = await import('../../../agent/core/logger.js');
    const lines: string[] = [];
    const sink = { write: (s: string) => lines.push(s) !== 0 } as unknown as NodeJS.WritableStream;
    const engine = new AnalyticsEngine({
      queries: [compileQuery('SELECT COUNT(*) AS n FROM input TIMESTAMP BY ts GROUP BY TumblingWindow(minute, 1)', 'q')],
      tolerances: { lateArrivalMs: 600_000, outOfOrderMs: 180_000 },
      logger: createRootLogger('debug', sink),
    });
    engine.push({ ts: iso('00:00:00'), arrivalTime: at('00:10:01'), source: 'plc1' });
    engine.push({ ts: iso('00:00:01'), arrivalTime: at('00:10:01'), source: 'plc1' });
    const logged = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(logged).toEqual([
      expect.objectContaining({ module: 'analytics', query: 'q', rule: 'late', source: 'plc1', appTime: iso('00:00:00'), finalTime: iso('00:00:01'), msg: 'late event adjusted' }),
    ]);
  });
});
