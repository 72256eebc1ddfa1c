import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../../agent/core/logger.js';
import type { JournalEntry } from '../../../agent/journal/journal.js';
import { AnalyticsStage, type AnalyticsStageOptions } from '../../../agent/pipeline/analytics-stage.js';
import { inputFilter } from '../../../agent/pipeline/input-selection.js';
import { stamped } from '../../support/readings.js';

const T0 = Date.UTC(2026, 0, 1);

const options: AnalyticsStageOptions = {
  queries: [
    { name: 'byArea', query: 'SELECT a.area AS area, COUNT(*) AS n, SUM(i.value) AS total FROM boilers i JOIN areas a ON i.point = a.point GROUP BY a.area, TumblingWindow(second, 10)' },
    { name: 'all', query: 'SELECT COUNT(*) AS n FROM readings GROUP BY TumblingWindow(second, 10)' },
  ],
  tolerances: { lateArrivalMs: 5000, outOfOrderMs: 1000, policy: 'adjust' },
  maxStateEntries: 100_000,
  forwardReadings: false,
  logger: silentLogger,
  inputs: { boilers: { sources: ['b1', 'b2'], points: ['temp', 'flow', 'level'] } },
  reference: { areas: { rows: [{ point: 'temp', area: 'heat' }, { point: 'flow', area: 'water' }] } },
};

/** Two boilers and a chiller, three points each, one reading a second. */
const entries: JournalEntry[] = Array.from({ length: 180 }, (_, i) => {
  const t = T0 + Math.floor(i / 3) * 1000;
  return { position: i + 1, reading: stamped(i, { source: ['b1', 'b2', 'chiller'][i % 3], point: ['temp', 'flow', 'level'][Math.floor(i / 3) % 3], value: i, appTime: t, receivedAt: t, arrivalTime: t + 100 }) };
});

function feed(stage: AnalyticsStage, from: number, to: number): unknown[] {
  const out: unknown[] = [];
  for (let i = from; i < to; i += 9) out.push(...stage.process(entries.slice(i, Math.min(i + 9, to)), entries[Math.min(i + 9, to) - 1]!.reading.arrivalTime).drafts);
  return out;
}

describe('AnalyticsStage with configured inputs and reference tables', () => {
  it('selects readings by source and point, joins the table, and counts the rest as read by no input', () => {
    const stage = new AnalyticsStage(options);
    // A quiet minute after the last reading closes every window on arrival time.
    const rows = [...feed(stage, 0, entries.length), ...stage.process([], T0 + 120_000).drafts] as Array<{ query: string; row: { area?: string; n: number } }>;
    const byArea = rows.filter((r) => r.query === 'byArea');
    // 'level' has no row in the table (inner join); the chiller is no boiler.
    expect(new Set(byArea.map((r) => r.row.area))).toEqual(new Set(['heat', 'water']));
    const boilerTempOrFlow = entries.filter((e) => e.reading.source !== 'chiller' && e.reading.point !== 'level').length;
    const counted = byArea.reduce((n, r) => n + r.row.n, 0);
    expect(counted).toBe(boilerTempOrFlow);
    expect(stage.counters().byArea).toMatchObject({ unmatchedInput: entries.length / 3, reference: { areas: { from: 'inline', rows: 2, badVersions: 0 } } });
    // A query reading one unconfigured input still reads everything, and has no reference status.
    expect(stage.counters().all!.unmatchedInput).toBe(0);
    expect(stage.counters().all!.reference).toBeUndefined();
  });

  it('continues after checkpoint and restore exactly as an uninterrupted run (the tables survive the rebuilt engines)', () => {
    const whole = feed(new AnalyticsStage(options), 0, entries.length);
    for (const cut of [45, 99, 144]) {
      const first = new AnalyticsStage(options);
      const before = feed(first, 0, cut);
      const saved = Buffer.concat([...first.checkpoint()]).toString('utf8');
      const second = new AnalyticsStage(options);
      second.restore(saved);
      expect([...before, ...feed(second, cut, entries.length)]).toEqual(whole);
    }
  });

  it('an input with both lists takes a reading only when it is in both', () => {
    const f = inputFilter({ sources: ['b1'], points: ['temp'] });
    const ev = (source: string, point: string) => ({ arrivalTime: 0, source, point });
    expect([f(ev('b1', 'temp')), f(ev('b1', 'flow')), f(ev('b2', 'temp')), f(ev('B1', 'temp'))]).toEqual([true, false, false, false]);
    expect(inputFilter({ points: ['temp'] })(ev('anything', 'temp'))).toBe(true);
  });

  it('an input by driver takes the readings the intake recorded as read by that driver', () => {
    const f = inputFilter({ drivers: ['boiler-bus'], points: ['temp'] });
    const ev = (driver: string | undefined, point: string) => ({ arrivalTime: 0, source: 's', point, ...(driver ? { driver } : {}) });
    expect([f(ev('boiler-bus', 'temp')), f(ev('chiller-bus', 'temp')), f(ev(undefined, 'temp')), f(ev('boiler-bus', 'flow'))]).toEqual([true, false, false, false]);
  });
});
