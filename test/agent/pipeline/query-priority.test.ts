import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../agent/core/clock.js';
import { silentLogger } from '../../../agent/core/logger.js';
import { Journal } from '../../../agent/journal/journal.js';
import { Outbox } from '../../../agent/outbox/outbox.js';
import { AnalyticsStage } from '../../../agent/pipeline/analytics-stage.js';
import { Pipeline } from '../../../agent/pipeline/pipeline.js';
import { AgentStore } from '../../../agent/store/store.js';
import { agentConfigSchema } from '../../../agent/config/schema.js';
import { stamped } from '../../support/readings.js';
import { tempDir } from '../../support/tmp.js';

const T0 = Date.UTC(2026, 0, 1);
const SQL = (into: string) => `SELECT point, COUNT(*) AS n INTO ${into} FROM readings TIMESTAMP BY appTime GROUP BY point, TumblingWindow(second, 10)`;

describe('a query sets the sending class of its results (analytics.queries[].priority)', () => {
  it('results of a priority "alarm" query land in the alarm class, the others in result, readings in reading', async () => {
    const dir = tempDir('query-priority');
    const clock = new ManualClock(T0);
    const store = await AgentStore.open(dir.path);
    try {
      const journal = new Journal(store);
      const outbox = new Outbox(store);
      const stage = new AnalyticsStage({
        queries: [
          { name: 'trips', query: SQL('trips'), priority: 'alarm' },
          { name: 'stats', query: SQL('stats') },
        ],
        tolerances: { lateArrivalMs: 0, outOfOrderMs: 0, policy: 'adjust' },
        maxStateEntries: 10_000,
        forwardReadings: true,
        logger: silentLogger,
      });
      const pipeline = new Pipeline(store, journal, outbox, stage, clock, silentLogger, 50);
      await pipeline.init();
      await journal.init(pipeline.position);
      await outbox.init();
      await journal.append(Array.from({ length: 20 }, (_, i) => stamped(i, { point: 'p', value: i, appTime: T0 + i * 1000, receivedAt: T0 + i * 1000, arrivalTime: T0 + i * 1000 })));
      clock.set(T0 + 60_000);
      while ((await pipeline.step()) > 0);
      await pipeline.step();
      const alarms = await outbox.readClass('alarm', 0, 100);
      const results = await outbox.readClass('result', 0, 100);
      const readingsOut = await outbox.readClass('reading', 0, 100);
      expect(alarms.length).toBeGreaterThan(0);
      expect(new Set(alarms.map((r) => { const j = JSON.parse(r.json) as { query: string; cls?: string }; return `${j.query}/${j.cls}`; }))).toEqual(new Set(['trips/alarm']));
      expect(results.length).toBe(alarms.length);
      // The default class is implied by the kind: nothing extra on the wire.
      expect(new Set(results.map((r) => { const j = JSON.parse(r.json) as { query: string; cls?: string }; return `${j.query}/${j.cls}`; }))).toEqual(new Set(['stats/undefined']));
      expect(readingsOut).toHaveLength(20);
      expect(outbox.unsentIn('alarm')).toBe(alarms.length);
      // The merged read still gives every class in seq order.
      const all = await outbox.read(0, 1000);
      expect(all.map((r) => r.seq)).toEqual([...all.map((r) => r.seq)].sort((a, b) => a - b));
      expect(all).toHaveLength(20 + 2 * alarms.length);
    } finally {
      await store.close();
      dir.cleanup();
    }
  });

  it('the config refuses an unknown priority', () => {
    const config = (priority: string) => ({ hub: { connectionString: 'HostName=h;DeviceId=d;SharedAccessKey=AAAA' }, dataDir: '/tmp/x', analytics: { queries: [{ name: 'q', query: SQL('q'), priority }] } });
    expect(agentConfigSchema.safeParse(config('alarm')).success).toBe(true);
    const bad = agentConfigSchema.safeParse(config('urgent'));
    expect(bad.success).toBe(false);
    expect(bad.error?.issues.map((i) => i.path.join('.'))).toEqual(['analytics.queries.0.priority']);
  });
});
