import { describe, expect, it } from 'vitest';
import { AnalyticsEngine, compileQuery, type AnalyticsEvent, type EngineCheckpoint, type ResultRow } from '../../../agent/analytics/index.js';
import { changePoint, kdeTails, spikeAndDip } from '../../../agent/analytics/anomaly.js';
import { run } from './helpers.js';

/**
 * AnomalyDetection_SpikeAndDip and AnomalyDetection_ChangePoint with ASA's syntax (the query of
 * ASA's anomaly-detection page, in a WITH step read through GetRecordPropertyValue), checked
 * against what the method guarantees: a steady signal raises nothing, a spike (or dip) is flagged
 * where it happens in the tail that is watched, a level shift is flagged once soon after it.
 */
const T0 = Date.UTC(2026, 0, 1);
/** A steady reading around 20 with a small deterministic ripple (±0.5). */
const steady = (i: number) => 20 + (((i * 37) % 11) - 5) * 0.1;

function readings(values: number[], sensor = 's1', stepMs = 1000): AnalyticsEvent[] {
  return values.map((v, i) => ({ sensor, temperature: v, time: new Date(T0 + i * stepMs).toISOString(), arrivalTime: T0 + i * stepMs }));
}

const SPIKE_QUERY = (mode: string) => `
  WITH AnomalyDetectionStep AS (
    SELECT time, CAST(temperature AS float) AS temp,
           AnomalyDetection_SpikeAndDip(CAST(temperature AS float), 95, 120, '${mode}') OVER (LIMIT DURATION(second, 120)) AS SpikeAndDipScores
    FROM input TIMESTAMP BY time
  )
  SELECT time, temp,
         CAST(GetRecordPropertyValue(SpikeAndDipScores, 'Score') AS float) AS SpikeAndDipScore,
         CAST(GetRecordPropertyValue(SpikeAndDipScores, 'IsAnomaly') AS bigint) AS IsSpikeAndDipAnomaly
  INTO output FROM AnomalyDetectionStep`;

const flagged = (rows: ResultRow[], field: string) => rows.map((r, i) => (r.row[field] === 1 ? i : -1)).filter((i) => i >= 0);

describe('AnomalyDetection_SpikeAndDip', () => {
  const values = Array.from({ length: 200 }, (_, i) => steady(i));
  values[150] = 35; // a spike
  values[175] = 5; // a dip

  it("'spikesanddips' flags the spike and the dip and nothing else, once the history is full", () => {
    const { rows } = run(SPIKE_QUERY('spikesanddips'), readings(values), { lateArrivalMs: 0 });
    expect(rows).toHaveLength(200);
    expect(flagged(rows, 'IsSpikeAndDipAnomaly')).toEqual([150, 175]);
    expect(rows[150]!.row.SpikeAndDipScore as number).toBeGreaterThan(0.99);
    expect(rows[140]!.row.SpikeAndDipScore as number).toBeLessThan(0.95);
  });

  it.each([
    ['spikes', [150]],
    ['dips', [175]],
  ])("'%s' watches one tail only", (mode, expected) => {
    const { rows } = run(SPIKE_QUERY(mode), readings(values), { lateArrivalMs: 0 });
    expect(flagged(rows, 'IsSpikeAndDipAnomaly')).toEqual(expected);
  });

  it('a spike inside the first history (still learning) is scored but not flagged', () => {
    const early = Array.from({ length: 60 }, (_, i) => steady(i));
    early[30] = 35;
    const { rows } = run(SPIKE_QUERY('spikesanddips'), readings(early), { lateArrivalMs: 0 });
    expect(flagged(rows, 'IsSpikeAndDipAnomaly')).toEqual([]);
    expect(rows[30]!.row.SpikeAndDipScore as number).toBeGreaterThan(0.99);
  });

  it('PARTITION BY keeps one history per sensor', () => {
    const a = Array.from({ length: 40 }, (_, i) => steady(i));
    const b = Array.from({ length: 40 }, (_, i) => 100 + steady(i));
    b[35] = 60; // low for b, ordinary for nobody else
    const evs = [...readings(a, 'a'), ...readings(b, 'b')].sort((x, y) => x.arrivalTime - y.arrivalTime);
    const { rows } = run(
      `SELECT sensor, AnomalyDetection_SpikeAndDip(temperature, 95, 20, 'spikesanddips') OVER (PARTITION BY sensor LIMIT DURATION(minute, 5)).IsAnomaly AS bad
       FROM input TIMESTAMP BY time`,
      evs,
      { lateArrivalMs: 0 },
    );
    expect(rows.filter((r) => r.row.bad === 1).map((r) => r.row.sensor)).toEqual(['b']);
  });
});

describe('AnomalyDetection_ChangePoint', () => {
  it('a one-event spike is not a change point', () => {
    const values = Array.from({ length: 150 }, (_, i) => steady(i));
    values[100] = 40;
    const { rows } = run('SELECT AnomalyDetection_ChangePoint(temperature, 95, 60) OVER (LIMIT DURATION(minute, 20)) AS cp FROM input TIMESTAMP BY time', readings(values), { lateArrivalMs: 0 });
    expect(rows.filter((r) => (r.row.cp as { IsAnomaly: number }).IsAnomaly === 1)).toEqual([]);
  });

  it('a lasting level shift is flagged once, within a few events; the steady part never', () => {
    const values = Array.from({ length: 220 }, (_, i) => (i < 120 ? steady(i) : 4 + steady(i)));
    const { rows } = run(
      `SELECT AnomalyDetection_ChangePoint(temperature, 95, 60) OVER (LIMIT DURATION(minute, 20)) AS cp FROM input TIMESTAMP BY time`,
      readings(values),
      { lateArrivalMs: 0 },
    );
    const alerts = rows.map((r, i) => ((r.row.cp as { IsAnomaly: number }).IsAnomaly === 1 ? i : -1)).filter((i) => i >= 0);
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toBeGreaterThanOrEqual(120);
    expect(alerts[0]).toBeLessThan(130);
  });

  it('checkpointed with every other state: a restore mid-stream gives the same rows', () => {
    const q = compileQuery(
      `SELECT AnomalyDetection_ChangePoint(temperature, 95, 30) OVER (LIMIT DURATION(minute, 20)) AS cp,
              AnomalyDetection_SpikeAndDip(temperature, 90, 30, 'spikes') OVER (LIMIT DURATION(minute, 20)) AS sd
       FROM input TIMESTAMP BY time`,
      'q',
    );
    const values = Array.from({ length: 120 }, (_, i) => (i < 70 ? steady(i) : 26 + steady(i)));
    values[40] = 40;
    const evs = readings(values);
    const whole: ResultRow[] = [];
    const a = new AnalyticsEngine({ queries: [q], tolerances: { lateArrivalMs: 0 }, onResult: (r) => whole.push(r) });
    evs.forEach((e) => a.push(e));
    a.flush();
    const cut: ResultRow[] = [];
    const b = new AnalyticsEngine({ queries: [q], tolerances: { lateArrivalMs: 0 }, onResult: (r) => cut.push(r) });
    evs.slice(0, 55).forEach((e) => b.push(e));
    const saved = JSON.parse(JSON.stringify(b.checkpoint())) as EngineCheckpoint;
    const c = new AnalyticsEngine({ queries: [q], tolerances: { lateArrivalMs: 0 }, onResult: (r) => cut.push(r) });
    c.restore(saved);
    evs.slice(55).forEach((e) => c.push(e));
    c.flush();
    expect(JSON.parse(JSON.stringify(cut))).toEqual(JSON.parse(JSON.stringify(whole)));
    expect(whole.some((r) => (r.row.sd as { IsAnomaly: number }).IsAnomaly === 1)).toBe(true);
  });

  it.each([
    ["AnomalyDetection_SpikeAndDip(v, 95, 120, 'up') OVER (LIMIT DURATION(s, 1))", "the mode must be 'spikes', 'dips' or 'spikesanddips'"],
    ["AnomalyDetection_SpikeAndDip(v, 100, 120, 'spikes') OVER (LIMIT DURATION(s, 1))", 'confidence must be a number above 0 and below 100'],
    ['AnomalyDetection_ChangePoint(v, 95, 1) OVER (LIMIT DURATION(s, 1))', 'history size must be a whole number from 2 to 10000'],
    ['AnomalyDetection_ChangePoint(v, 95, 10)', 'AnomalyDetection_ChangePoint needs OVER'],
  ])('refuses %s', (call, reason) => {
    expect(() => compileQuery(`SELECT ${call} AS a FROM input`, 'q')).toThrow(reason);
  });
});

describe('the scoring method', () => {
  it('kernel density tails: a value in the middle of the history is two-sided ordinary, far above is in the upper tail', () => {
    const h = Array.from({ length: 50 }, (_, i) => steady(i));
    const mid = kdeTails(h, 20);
    expect(mid.upper).toBeGreaterThan(0.3);
    expect(mid.upper).toBeLessThan(0.7);
    expect(kdeTails(h, 30).upper).toBeLessThan(1e-6);
    expect(kdeTails([5, 5, 5], 5)).toEqual({ upper: 0.5, lower: 0.5 });
    expect(kdeTails([5, 5, 5], 6).upper).toBe(0);
  });

  it('spike/dip p-values and the change-point threshold 1 / (1 − confidence)', () => {
    const h = Array.from({ length: 50 }, (_, i) => steady(i));
    expect(spikeAndDip(h, 30, 0.95, 'spikes', true).IsAnomaly).toBe(1);
    expect(spikeAndDip(h, 30, 0.95, 'dips', true).IsAnomaly).toBe(0);
    expect(spikeAndDip(h, 30, 0.95, 'spikes', false).IsAnomaly).toBe(0);
    // Threshold log(1 / 0.05) ≈ 3.0; one unlikely event adds at most a third of it.
    const far = changePoint(0, h, 30, 0.95, true);
    expect(far.log).toBeCloseTo(Math.log(20) / 3, 9);
    expect(far.result.IsAnomaly).toBe(0);
    expect(changePoint(far.log * 2, h, 30, 0.95, true).result.IsAnomaly).toBe(1);
    // An ordinary value pulls the martingale down, never below 1 (log 0).
    expect(changePoint(0.5, h, 20, 0.95, true).log).toBe(0);
  });
});
