import { afterAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../agent/core/clock.js';
import { Reconciler } from '../../../cloud/reconciler/reconciler.js';
import { MessageLogSource } from '../../../cloud/reconciler/sources/message-log-source.js';
import { expectStoreMatchesTruth } from './support/compare.js';
import { settle } from './support/drive.js';
import { openTestLog } from './support/real-log.js';
import { buildScenario, ResendFleetDouble, type ScenarioOptions } from './support/scenario.js';
import { allStores, type StoreFactory } from './support/stores.js';

const DAY = 86_400_000;
const GRACE = 10_000;

/** Table of fault mixes; each must end with the ground-truth table, no row twice, no gap unexplained. */
const cases: Array<{ name: string; options: ScenarioOptions; expectResends?: boolean; expectLost?: boolean }> = [
  { name: 'clean delivery', options: { seed: 1, devices: 3, recordsPerDevice: 300 } },
  { name: 'duplicates', options: { seed: 2, devices: 3, recordsPerDevice: 300, duplicateRate: 0.3 } },
  { name: 'reordering', options: { seed: 3, devices: 3, recordsPerDevice: 300, reorderRate: 0.3 } },
  { name: 'revisions', options: { seed: 4, devices: 3, recordsPerDevice: 300, reviseRate: 0.4, reorderRate: 0.2 } },
  { name: 'resends fill every gap', options: { seed: 5, devices: 4, recordsPerDevice: 300, dropRate: 0.15 }, expectResends: true },
  {
    name: 'evicted ranges are closed as lost',
    options: { seed: 6, devices: 4, recordsPerDevice: 300, dropRate: 0.2, evictRate: 0.5 },
    expectResends: true,
    expectLost: true,
  },
  { name: 'multi-day outage backlog', options: { seed: 7, devices: 3, recordsPerDevice: 600, outageMs: 3 * DAY, duplicateRate: 0.1 } },
  { name: 'device reboots (new boot id, seq carries on)', options: { seed: 8, devices: 3, recordsPerDevice: 300, rebootEvery: 70, reorderRate: 0.1 } },
  {
    name: 'everything at once, gzip bodies',
    options: {
      seed: 9,
      devices: 5,
      recordsPerDevice: 400,
      duplicateRate: 0.2,
      reorderRate: 0.2,
      dropRate: 0.1,
      evictRate: 0.3,
      reviseRate: 0.3,
      rebootEvery: 90,
      outageMs: 2 * DAY,
      gzipRate: 0.5,
    },
    expectResends: true,
  },
];

function scenarioSuite(stores: StoreFactory): void {
  describe(`reconciler scenarios on ${stores.name}`, () => {
    afterAll(() => stores.cleanup());

    it('flags the device whose clock runs ahead of the hub, and only that one', async () => {
      const scenario = buildScenario({ seed: 12, devices: 3, recordsPerDevice: 200, skewed: { device: 1, aheadMs: 10 * 60_000 } });
      const log = await openTestLog(scenario.deliveries);
      const store = await stores.create();
      try {
        const reconciler = new Reconciler({ source: new MessageLogSource(log.log), store, clock: new ManualClock(0), skewThresholdMs: 5 * 60_000 });
        await reconciler.runOnce();
        await expectStoreMatchesTruth(store, scenario.truth);
        const devices = await store.devices();
        expect(devices.map((d) => [d.device, d.clockSkewed])).toEqual([
          ['dev-000', false],
          ['dev-001', true],
          ['dev-002', false],
        ]);
        expect(devices[1]!.clockAheadMs).toBeGreaterThan(9 * 60_000);
      } finally {
        await store.close();
        await log.close();
      }
    });

    for (const c of cases) {
      it(c.name, async () => {
        const scenario = buildScenario(c.options);
        const log = await openTestLog(scenario.deliveries);
        const clock = new ManualClock(Date.UTC(2026, 10, 20));
        const fleet = new ResendFleetDouble(scenario.agents, (t, at) => log.append(t, Math.max(at, Date.UTC(2026, 10, 20))), clock);
        const store = await stores.create();
        try {
          const reconciler = new Reconciler({
            source: new MessageLogSource(log.log),
            store,
            methods: fleet,
            clock,
            batchSize: 64,
            resend: { graceMs: GRACE, retryMs: GRACE * 3 },
          });
          await settle(reconciler, clock, GRACE);
          await expectStoreMatchesTruth(store, scenario.truth, { exactBoots: !c.options.dropRate });
          if (c.expectResends) expect(fleet.calls.length).toBeGreaterThan(0);
          else expect(fleet.calls).toEqual([]);
          const lost = scenario.truth.devices.reduce((n, d) => n + d.lostRecords, 0);
          if (c.expectLost) expect(lost).toBeGreaterThan(0);
          const counters = await reconciler.counters();
          expect(counters).toMatchObject({ openGaps: 0, lostRecords: lost });
          expect(counters.reconciledRows).toBe(scenario.truth.results.length + scenario.truth.readings.length + scenario.truth.events.length);
        } finally {
          await store.close();
          await log.close();
        }
      });
    }
  });
}

// Both stores, explicitly.
for (const stores of allStores()) scenarioSuite(stores);
