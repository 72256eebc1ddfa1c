import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AnalyticsEngine, compileQuery, type AnalyticsEvent, type EngineCheckpoint, type QueryPlan, type ResultRow, type Tolerances } from '../../../agent/analytics/index.js';

const BASE = Date.UTC(2026, 0, 1);
// Modest by default (shared CI cores); EDGE_PROP_RUNS=2000 for a deeper search.
const RUNS = Number(process.env.EDGE_PROP_RUNS ?? 80);

// Integer values keep SUM/AVG exact whatever the order they are added in.
const QUERIES: QueryPlan[] = [
  compileQuery('SELECT k, COUNT(*) AS n, SUM(v) AS s, MIN(v) AS lo, MAX(v) AS hi, COUNT(DISTINCT v) AS d FROM input TIMESTAMP BY t GROUP BY k, TumblingWindow(second, 5)', 'tumbling'),
  compileQuery('SELECT k, COUNT(*) AS n, SUM(v) AS s FROM input TIMESTAMP BY t GROUP BY k, HoppingWindow(second, 6, 2)', 'hopping'),
  compileQuery('SELECT System.Timestamp() AS at, COUNT(*) AS n FROM input TIMESTAMP BY t GROUP BY System.Timestamp()', 'snapshot'),
  compileQuery('SELECT k, COUNT(*) AS n, SUM(v) AS s FROM input TIMESTAMP BY t GROUP BY k, SessionWindow(second, 2, 10) OVER (PARTITION BY k)', 'session'),
  compileQuery('SELECT COUNT(*) AS n, MAX(v) AS hi FROM input TIMESTAMP BY t GROUP BY SlidingWindow(second, 3)', 'sliding'),
  compileQuery('SELECT source, k, COUNT(*) AS n, SUM(v) AS s FROM input TIMESTAMP BY t OVER source GROUP BY source, k, HoppingWindow(second, 4, 2)', 'substreams'),
  compileQuery(
    `WITH perKey AS (SELECT k, COUNT(*) AS n FROM input TIMESTAMP BY t GROUP BY k, TumblingWindow(second, 2))
     SELECT SUM(n) AS total, COUNT(*) AS keys INTO sums FROM perKey GROUP BY TumblingWindow(second, 4);
     SELECT k, n INTO busy FROM perKey WHERE n > 1`,
    'steps',
  ),
  compileQuery(
    `WITH perSource AS (SELECT source, k, COUNT(*) AS n FROM input TIMESTAMP BY t OVER source GROUP BY source, k, TumblingWindow(second, 2))
     SELECT k, SUM(n) AS total FROM perSource GROUP BY k, TumblingWindow(second, 4)`,
    'substream-step',
  ),
  compileQuery(
    `WITH u AS (SELECT k, v FROM input TIMESTAMP BY t WHERE v > 0 UNION SELECT k, v * 2 FROM input TIMESTAMP BY t WHERE v < 0)
     SELECT k, COUNT(*) AS n, SUM(v) AS s FROM u GROUP BY k, TumblingWindow(second, 5)`,
    'union-step',
  ),
  compileQuery(
    "SELECT System.Window().Id AS w, k, COUNT(*) AS n, MAX(v) AS hi FROM input TIMESTAMP BY t GROUP BY k, Windows(Window('t3', TumblingWindow(second, 3)), Window('h4', HoppingWindow(second, 4, 2)))",
    'windows',
  ),
];

/**
 * Queries with analytic functions (LAG, LAST, ISFIRST, anomaly detection). Events of equal time are taken in arrival order (ASA), so a
 * permutation of ties legitimately changes LAG: the permutation property gives them distinct times.
 */
const LAG_QUERIES: QueryPlan[] = [
  compileQuery(
    `SELECT k, v, LAG(v) OVER (PARTITION BY k LIMIT DURATION(second, 3)) AS prev, LAST(v) OVER (LIMIT DURATION(second, 2) WHEN v > 0) AS lastPos,
            ISFIRST(second, 5) OVER (PARTITION BY k) AS first, LAG(v, 2, 0) OVER (LIMIT DURATION(second, 20) WHEN k = 'a') AS back2,
            SUM(v) OVER (PARTITION BY k LIMIT DURATION(second, 4)) AS sum4, MAX(v) OVER (LIMIT DURATION(second, 3) WHEN v > 0) AS max3,
            TopOne() OVER (PARTITION BY source ORDER BY v DESC LIMIT DURATION(second, 4)) AS top4
     FROM input TIMESTAMP BY t`,
    'lag',
  ),
  compileQuery(
    `SELECT k, COUNT(*) AS rises FROM input TIMESTAMP BY t WHERE LAG(v) OVER (PARTITION BY k LIMIT DURATION(second, 10)) < v GROUP BY k, TumblingWindow(second, 5)`,
    'lag-grouped',
  ),
  compileQuery(
    `SELECT k, v, AnomalyDetection_SpikeAndDip(v, 90, 5, 'spikesanddips') OVER (PARTITION BY k LIMIT DURATION(second, 20)) AS sd,
            AnomalyDetection_ChangePoint(v, 80, 6) OVER (LIMIT DURATION(second, 20)) AS cp
     FROM input TIMESTAMP BY t`,
    'anomaly',
  ),
  compileQuery(
    `WITH d AS (SELECT k, v - LAG(v) OVER (PARTITION BY k LIMIT DURATION(second, 5)) AS delta FROM input TIMESTAMP BY t)
     SELECT k, SUM(delta) AS s, COUNT(delta) AS n INTO sums FROM d GROUP BY k, HoppingWindow(second, 10, 5)`,
    'lag-step',
  ),
];

/** JOINs: a self-join, a LEFT OUTER self-join, two inputs (by source), and a JOIN feeding a window. */
const JOIN_QUERIES: QueryPlan[] = [
  compileQuery('SELECT a.k AS k, a.v AS av, b.v AS bv FROM input a TIMESTAMP BY t JOIN input b TIMESTAMP BY t ON a.k = b.k AND DATEDIFF(second, a, b) BETWEEN 0 AND 2', 'join-self'),
  compileQuery(
    'SELECT a.source AS src, a.v AS v, b.v AS nextV FROM input a TIMESTAMP BY t LEFT OUTER JOIN input b TIMESTAMP BY t ON a.source = b.source AND DATEDIFF(millisecond, a, b) BETWEEN 1 AND 1500',
    'join-left',
  ),
  compileQuery('SELECT x.v AS xv, y.v AS yv, System.Timestamp() AS at FROM d1 x TIMESTAMP BY t JOIN d2 y TIMESTAMP BY t ON x.k = y.k AND DATEDIFF(second, x, y) BETWEEN -1 AND 1', 'join-inputs'),
  compileQuery(
    'SELECT COUNT(*) AS n, SUM(b.v) AS s FROM input a TIMESTAMP BY t JOIN input b TIMESTAMP BY t ON a.k = b.k AND DATEDIFF(second, a, b) BETWEEN 1 AND 3 GROUP BY TumblingWindow(second, 5)',
    'join-window',
  ),
];

const ALL = [...QUERIES, ...LAG_QUERIES, ...JOIN_QUERIES];

interface Ev {
  t: number;
  source: string;
  k: string;
  v: number;
}

const evArb = fc.record({
  // Coarse times too, so that equal timestamps (ties) are common.
  t: fc.oneof(fc.integer({ min: 0, max: 40_000 }), fc.integer({ min: 0, max: 80 }).map((x) => x * 500)).map((x) => BASE + x),
  source: fc.constantFrom('d1', 'd2', 'd3'),
  k: fc.constantFrom('a', 'b'),
  v: fc.integer({ min: -50, max: 50 }),
});

function runAll(evs: AnalyticsEvent[], tol: Partial<Tolerances>, queries: QueryPlan[] = QUERIES): { rows: ResultRow[]; engine: AnalyticsEngine } {
  const rows: ResultRow[] = [];
  const engine = new AnalyticsEngine({ queries, tolerances: tol, onResult: (r) => rows.push(r) });
  for (const e of evs) engine.push({ ...e });
  engine.flush();
  return { rows, engine };
}

/**
 * Rows per output in emission order. Separate outputs (and queries) are separate streams: how
 * they interleave depends on how far each watermark step reaches, which arrival order changes.
 */
function byOutput(rows: ResultRow[]): Record<string, unknown[]> {
  const out: Record<string, unknown[]> = {};
  for (const r of rows) {
    // Substreams are separate timelines too (ASA: rows are in order within one OVER value only).
    // Each window of Windows(…) is its own stream too.
    const stream = r.query === 'substreams' ? `${r.query}/${r.output}/${r.key}` : r.query === 'windows' ? `${r.query}/${String(r.row.w)}` : `${r.query}/${r.output}`;
    (out[stream] ??= []).push(JSON.parse(JSON.stringify(r)));
  }
  return out;
}

describe('properties of the event-time engine', () => {
  it('any arrival order within the out-of-order tolerance gives identical output', () => {
    const O = 3000;
    fc.assert(
      fc.property(fc.array(fc.tuple(evArb, fc.integer({ min: 0, max: O })), { minLength: 1, maxLength: 60 }), (items) => {
        // Sorting by t + jitter (jitter ≤ O) is exactly an order where no event is more than O older than one before it.
        const inOrder = [...items].sort((a, b) => a[0].t - b[0].t).map(([e]) => e);
        const permuted = [...items].sort((a, b) => a[0].t + a[1] - (b[0].t + b[1])).map(([e]) => e);
        // Arrival times follow the file position and never trigger the late-arrival rule.
        const stamp = (list: Ev[]) => list.map((e, i) => ({ ...e, arrivalTime: BASE + i }));
        const tol = { outOfOrderMs: O, lateArrivalMs: 86_400_000 };
        const a = runAll(stamp(inOrder), tol);
        const b = runAll(stamp(permuted), tol);
        expect(byOutput(b.rows)).toEqual(byOutput(a.rows));
        expect(b.engine.counters().tumbling!.adjusted).toBe(0);
      }),
      { numRuns: RUNS },
    );
  }, 60_000);

  it('LAG, LAST, ISFIRST: any arrival order within the out-of-order tolerance gives identical output', () => {
    const O = 3000;
    fc.assert(
      fc.property(fc.uniqueArray(fc.tuple(evArb, fc.integer({ min: 0, max: O })), { minLength: 1, maxLength: 60, selector: ([e]) => e.t }), (items) => {
        const inOrder = [...items].sort((a, b) => a[0].t - b[0].t).map(([e]) => e);
        const permuted = [...items].sort((a, b) => a[0].t + a[1] - (b[0].t + b[1])).map(([e]) => e);
        const stamp = (list: Ev[]) => list.map((e, i) => ({ ...e, arrivalTime: BASE + i }));
        const tol = { outOfOrderMs: O, lateArrivalMs: 86_400_000 };
        const a = runAll(stamp(inOrder), tol, LAG_QUERIES);
        const b = runAll(stamp(permuted), tol, LAG_QUERIES);
        expect(byOutput(b.rows)).toEqual(byOutput(a.rows));
        // No event is adjusted or dropped on the way: every one gets its LAG row.
        expect(a.rows.filter((r) => r.query === 'lag')).toHaveLength(items.length);
      }),
      { numRuns: RUNS },
    );
  }, 60_000);

  it('JOIN: any arrival order within the out-of-order tolerance gives the same rows', () => {
    const O = 3000;
    // Pairs found by one event come out in the order their partners arrived: compared as sets, except the window's rows.
    const asSets = (rows: ResultRow[]) => {
      const out = byOutput(rows);
      for (const k of Object.keys(out)) if (!k.startsWith('join-window')) out[k] = out[k]!.map((r) => JSON.stringify(r)).sort();
      return out;
    };
    fc.assert(
      fc.property(fc.array(fc.tuple(evArb, fc.integer({ min: 0, max: O })), { minLength: 1, maxLength: 50 }), (items) => {
        const inOrder = [...items].sort((a, b) => a[0].t - b[0].t).map(([e]) => e);
        const permuted = [...items].sort((a, b) => a[0].t + a[1] - (b[0].t + b[1])).map(([e]) => e);
        const stamp = (list: Ev[]) => list.map((e, i) => ({ ...e, arrivalTime: BASE + i }));
        const tol = { outOfOrderMs: O, lateArrivalMs: 86_400_000 };
        const a = runAll(stamp(inOrder), tol, JOIN_QUERIES);
        const b = runAll(stamp(permuted), tol, JOIN_QUERIES);
        expect(asSets(b.rows)).toEqual(asSets(a.rows));
        // Every event pairs with itself in the self-join.
        expect(a.rows.filter((r) => r.query === 'join-self').length).toBeGreaterThanOrEqual(items.length);
      }),
      { numRuns: RUNS },
    );
  }, 60_000);

  it('a checkpoint/restore at any point gives the same output as an uninterrupted run', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(evArb, fc.integer({ min: 0, max: 8000 })), { minLength: 1, maxLength: 50 }),
        fc.nat(),
        fc.constantFrom<Partial<Tolerances>>(
          { policy: 'adjust', outOfOrderMs: 2000, lateArrivalMs: 5000 },
          { policy: 'drop', outOfOrderMs: 1000, lateArrivalMs: 3000 },
          { policy: 'revise', outOfOrderMs: 1000, lateArrivalMs: 3000, allowedLatenessMs: 10_000 },
        ),
        (items, cutSeed, tol) => {
          // Arrival drifts behind application time by up to 8 s, so every policy has work to do.
          let clock = BASE;
          const evs = items.map(([e, lag]) => {
            clock = Math.max(clock, e.t + lag);
            return { ...e, arrivalTime: clock };
          });
          const cut = cutSeed % (evs.length + 1);
          const whole = runAll(evs, tol, ALL);

          const rows: ResultRow[] = [];
          const first = new AnalyticsEngine({ queries: ALL, tolerances: tol, onResult: (r) => rows.push(r) });
          evs.slice(0, cut).forEach((e) => first.push({ ...e }));
          const saved = JSON.parse(JSON.stringify(first.checkpoint())) as EngineCheckpoint;
          const second = new AnalyticsEngine({ queries: ALL, tolerances: tol, onResult: (r) => rows.push(r) });
          second.restore(saved);
          evs.slice(cut).forEach((e) => second.push({ ...e }));
          second.flush();
          expect(JSON.parse(JSON.stringify(rows))).toEqual(JSON.parse(JSON.stringify(whole.rows)));
          expect(second.counters()).toEqual(whole.engine.counters());
        },
      ),
      { numRuns: RUNS },
    );
  }, 60_000);

  it('CROSS APPLY and a reference-data JOIN: checkpoint/restore at any point, and permutations within O', () => {
    const queries = [
      compileQuery('SELECT k, COUNT(*) AS n, SUM(e.ArrayValue) AS s FROM input TIMESTAMP BY t CROSS APPLY GetArrayElements(arr) AS e GROUP BY k, TumblingWindow(second, 5)', 'apply'),
      compileQuery('SELECT r.label AS label, COUNT(*) AS n FROM input i TIMESTAMP BY t LEFT OUTER JOIN labels r ON i.k = r.k GROUP BY r.label, TumblingWindow(second, 5)', 'ref', {
        referenceInputs: ['labels'],
      }),
    ];
    const referenceData = { labels: [{ k: 'a', label: 'alpha' }] };
    const withArr = fc.tuple(evArb, fc.array(fc.integer({ min: -5, max: 5 }), { maxLength: 3 }), fc.integer({ min: 0, max: 3000 }));
    fc.assert(
      fc.property(fc.array(withArr, { minLength: 1, maxLength: 40 }), fc.nat(), (items, cutSeed) => {
        const tol = { outOfOrderMs: 3000, lateArrivalMs: 86_400_000 };
        const stamp = (list: typeof items) => list.map(([e, arr], i) => ({ ...e, arr, arrivalTime: BASE + i }));
        const inOrder = stamp([...items].sort((a, b) => a[0].t - b[0].t));
        const permuted = stamp([...items].sort((a, b) => a[0].t + a[2] - (b[0].t + b[2])));
        const go = (evs: AnalyticsEvent[], cut: number | null) => {
          const rows: ResultRow[] = [];
          const first = new AnalyticsEngine({ queries, tolerances: tol, referenceData, onResult: (r) => rows.push(r) });
          if (cut === null) {
            evs.forEach((e) => first.push({ ...e }));
            first.flush();
            return byOutput(rows);
          }
          evs.slice(0, cut).forEach((e) => first.push({ ...e }));
          const second = new AnalyticsEngine({ queries, tolerances: tol, referenceData, onResult: (r) => rows.push(r) });
          second.restore(JSON.parse(JSON.stringify(first.checkpoint())) as EngineCheckpoint);
          evs.slice(cut).forEach((e) => second.push({ ...e }));
          second.flush();
          return byOutput(rows);
        };
        const whole = go(inOrder, null);
        expect(go(inOrder, cutSeed % (inOrder.length + 1))).toEqual(whole);
        expect(go(permuted, null)).toEqual(whole);
      }),
      { numRuns: RUNS },
    );
  }, 60_000);

  it('revise with zero allowed lateness equals drop', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(evArb, fc.integer({ min: 0, max: 8000 })), { minLength: 1, maxLength: 60 }), fc.integer({ min: 0, max: 4000 }), (items, O) => {
        const evs = items.map(([e, lag], i) => ({ ...e, arrivalTime: BASE + 30_000 + i * 100 + lag }));
        const revise = runAll(evs, { policy: 'revise', allowedLatenessMs: 0, outOfOrderMs: O, lateArrivalMs: 5000 }, ALL);
        const drop = runAll(evs, { policy: 'drop', outOfOrderMs: O, lateArrivalMs: 5000 }, ALL);
        expect(JSON.parse(JSON.stringify(revise.rows))).toEqual(JSON.parse(JSON.stringify(drop.rows)));
        expect(revise.engine.counters()).toEqual(drop.engine.counters());
      }),
      { numRuns: RUNS },
    );
  }, 60_000);
});
