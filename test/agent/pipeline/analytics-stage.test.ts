import { afterEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ManualClock } from '../../../agent/core/clock.js';
import { silentLogger } from '../../../agent/core/logger.js';
import { Journal } from '../../../agent/journal/journal.js';
import { Outbox } from '../../../agent/outbox/outbox.js';
import { AnalyticsStage } from '../../../agent/pipeline/analytics-stage.js';
import { Pipeline } from '../../../agent/pipeline/pipeline.js';
import { AgentStore } from '../../../agent/store/store.js';
import { stamped } from '../../support/readings.js';
import { tempDir } from '../../support/tmp.js';

const QUERY = {
  name: 'avg10s',
  query: 'SELECT point, COUNT(*) AS n, AVG(value) AS avg FROM readings TIMESTAMP BY appTime GROUP BY point, TumblingWindow(second, 10)',
};
const T0 = Date.UTC(2026, 0, 1);

/** 300 readings, 3 points, one a second, arriving 200 ms late and a little out of order. */
const readings = Array.from({ length: 300 }, (_, i) => {
  const appTime = T0 + i * 1000 + (i % 3) * 10 - (i % 5 === 0 ? 1500 : 0);
  return stamped(i, { point: `p${i % 3}`, value: i, appTime, receivedAt: appTime, arrivalTime: T0 + i * 1000 + 200 });
});

async function open(path: string, clock: ManualClock) {
  const store = await AgentStore.open(path);
  const journal = new Journal(store);
  const outbox = new Outbox(store);
  const stage = new AnalyticsStage({ queries: [QUERY], tolerances: { lateArrivalMs: 5000, outOfOrderMs: 2000, policy: 'adjust' }, maxStateEntries: 100_000, forwardReadings: false, logger: silentLogger });
  const pipeline = new Pipeline(store, journal, outbox, stage, clock, silentLogger, 37);
  await pipeline.init();
  await journal.init(pipeline.position);
  await outbox.init();
  return { store, journal, outbox, pipeline };
}

/** Feeds readings one arrival at a time; restarts the whole stack before each index in `restarts`. */
async function run(restarts: number[]): Promise<unknown[]> {
  const dir = tempDir('analytics-stage');
  const clock = new ManualClock(T0);
  let p = await open(dir.path, clock);
  try {
    for (let i = 0; i < readings.length; i++) {
      if (restarts.includes(i)) {
        await p.store.close();
        p = await open(dir.path, clock);
      }
      clock.set(readings[i]!.arrivalTime);
      await p.journal.append([readings[i]!]);
      if (i % 7 === 0) while ((await p.pipeline.step()) > 0);
    }
    clock.advance(60_000); // quiet line: windows close on arrival time
    while ((await p.pipeline.step()) > 0);
    await p.pipeline.step();
    return (await p.outbox.read(0, 10_000)).map((r) => {
      const { seq: _seq, ...rest } = JSON.parse(r.json) as Record<string, unknown>;
      return rest;
    });
  } finally {
    await p.store.close();
    dir.cleanup();
  }
}

describe('AnalyticsStage in the pipeline: state checkpointed with the journal cursor', () => {
  let baseline: unknown[] | undefined;
  afterEach(() => undefined);

  it('emits every 10 s window once, with every reading counted once', async () => {
    baseline = await run([]);
    const counts = baseline.map((r) => (r as { row: { n: number } }).row.n);
    expect(counts.reduce((a, b) => a + b, 0)).toBe(readings.length);
    const keys = baseline.map((r) => JSON.stringify([(r as { key: string }).key, (r as { we: number }).we]));
    expect(new Set(keys).size).toBe(keys.length);
    expect(baseline.length).toBeGreaterThanOrEqual(90);
  });

  it('gives the same results when restarted at any points', async () => {
    baseline ??= await run([]);
    const expected = baseline;
    await fc.assert(
      fc.asyncProperty(fc.uniqueArray(fc.integer({ min: 1, max: readings.length - 1 }), { minLength: 1, maxLength: 4 }), async (restarts) => {
        expect(await run(restarts)).toEqual(expected);
      }),
      { numRuns: 8 },
    );
  });
});
