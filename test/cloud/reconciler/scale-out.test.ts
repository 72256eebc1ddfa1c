import { fork, type ChildProcess } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../agent/core/clock.js';
import { IotHubEmulator } from '../../../cloud/iothub/index.js';
import { Reconciler } from '../../../cloud/reconciler/reconciler.js';
import { MessageLogSource } from '../../../cloud/reconciler/sources/message-log-source.js';
import { EventHubsSource } from '../../../cloud/reconciler/sources/event-hubs-source.js';
import type { ReconcilerStore } from '../../../cloud/reconciler/store.js';
import { childLimit, LONG_MS } from '../../support/child.js';
import { expectStoreMatchesTruth } from './support/compare.js';
import { openTestLog } from './support/real-log.js';
import { buildScenario, type ScenarioOptions } from './support/scenario.js';
import type { ChildReport } from './support/scale-out-child.js';
import { postgresStores } from './support/stores.js';

// Three reconciler processes share a 4-partition hub through the Event Hubs SDK's own load
// balancing (ownership in PostgreSQL), reading the emulator over AMQP; one is SIGKILLed while it
// owns a partition mid-way. Its partitions move to the survivors, and the tables they leave are
// the single reconciler's, row for row.

const child = fileURLToPath(new URL('./support/scale-out-child.ts', import.meta.url));
const BATCH = 5;
const CLOCK = Date.UTC(2026, 10, 20);

const options: ScenarioOptions = {
  seed: 1717,
  devices: 16,
  recordsPerDevice: 1200,
  perMessage: 8,
  duplicateRate: 0.15,
  reorderRate: 0.15,
  reviseRate: 0.3,
  rebootEvery: 400,
  outageMs: 86_400_000,
};

interface Instance {
  id: string;
  proc: ChildProcess;
  owned: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const stores = postgresStores();
afterAll(() => stores.cleanup());

/** Everything in a store, sorted in JS (no collation in play), to compare two stores row for row. */
async function snapshot(store: ReconcilerStore) {
  const sortBy = <T>(rows: T[]) => rows.map((r) => JSON.stringify(r)).sort();
  return {
    results: sortBy(await store.results()),
    readings: sortBy(await store.readings()),
    events: sortBy(await store.events()),
    devices: sortBy(await store.devices()),
    gaps: sortBy(await store.gaps()),
  };
}

describe('reconcilers scaled out over Event Hubs partitions (PostgreSQL ownership), one SIGKILLed', () => {
  it('the partitions move to the survivors and the tables equal a single reconciler’s', async () => {
    const scenario = buildScenario(options);
    const testLog = await openTestLog(scenario.deliveries, 4);
    await testLog.log.close();
    const hub = await IotHubEmulator.start({ dataDir: testLog.dir, amqpPort: 0 });
    const instances: Instance[] = [];
    try {
      const ends = await Promise.all([0, 1, 2, 3].map((p) => hub.messageLog.endOf(p)));
      expect(ends.every((n) => n > 100), `every partition has a backlog: ${ends}`).toBe(true);

      // The single reconciler, straight from the log: what the fleet must end with.
      const single = await stores.create();
      await single.migrate();
      const reference = new Reconciler({ source: new MessageLogSource(hub.messageLog), store: single, clock: new ManualClock(CLOCK), batchSize: 200 });
      for (;;) if ((await reference.runOnce()).events === 0) break;
      await expectStoreMatchesTruth(single, scenario.truth, { exactBoots: false });

      const shared = await stores.create();
      await shared.migrate();
      const url = stores.locationOf(shared);
      const connectionString = hub.eventHubsConnectionString()!;

      const sourceId = new EventHubsSource({ connectionString }).id;
      let stopping = false;
      let victim: Instance | undefined;
      let victimOwned: string[] = [];
      let finish: () => void = () => undefined;
      let fail: (err: Error) => void = () => undefined;
      const finished = new Promise<void>((resolve, reject) => {
        finish = resolve;
        fail = reject;
      });
      const checkDone = async (): Promise<void> => {
        if (!victim) return;
        const survivors = instances.filter((i) => i !== victim);
        const owned = new Set(survivors.flatMap((i) => i.owned));
        if (owned.size < 4) return;
        const { checkpoints } = await shared.loadCheckpoints(sourceId);
        if ([0, 1, 2, 3].every((p) => checkpoints.get(String(p)) === ends[p])) finish();
      };

      const readyAll = [1, 2, 3].map(
        (n) =>
          new Promise<void>((ready) => {
            const id = `reconciler-${n}`;
            const proc = fork(child, [connectionString, url, String(BATCH), id], {
              execArgv: ['--import', 'tsx'],
              stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
              ...childLimit(LONG_MS),
            });
            let stderr = '';
            proc.stderr?.on('data', (b: Buffer) => (stderr += b.toString()));
            const instance: Instance = {
              id,
              proc,
              owned: [],
              exited: new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal }))),
            };
            instances.push(instance);
            void instance.exited.then(({ code }) => {
              if (instance !== victim && code !== 0 && !stopping) fail(new Error(`${id} exited (${code}): ${stderr.slice(-2000)}`));
            });
            proc.on('message', (m: ChildReport) => {
              if ('ready' in m) ready();
              if ('owned' in m) instance.owned = m.owned;
              if ('commit' in m) {
                instance.owned = m.owned;
                // The first commit made while all three own a partition, by one still mid-way through it: kill it there.
                const p = Number(m.commit.partitionId);
                if (!victim && instances.length === 3 && instances.every((i) => i.owned.length > 0) && m.commit.next < ends[p]!) {
                  victim = instance;
                  victimOwned = [...instance.owned];
                  proc.kill('SIGKILL');
                }
              }
              if (victim && instance !== victim) checkDone().catch(fail);
            });
          }),
      );
      await Promise.all(readyAll);
      for (const i of instances) i.proc.send('go');
      await finished;
      expect(victim, 'an instance was killed while it owned a partition mid-way').toBeDefined();
      expect(await victim!.exited).toMatchObject({ signal: 'SIGKILL' });

      // The killed instance's partitions are now read by the survivors.
      const survivors = instances.filter((i) => i !== victim);
      const survivorOwned = new Set(survivors.flatMap((i) => i.owned));
      for (const p of victimOwned) expect(survivorOwned.has(p), `partition ${p} moved to a survivor`).toBe(true);
      expect(survivors.every((i) => i.owned.length > 0), 'both survivors share the partitions').toBe(true);

      stopping = true;
      for (const i of survivors) i.proc.send('stop');
      for (const i of survivors) expect(await i.exited).toMatchObject({ code: 0 });

      const [a, b] = await Promise.all([snapshot(single), snapshot(shared)]);
      expect(b.results.length).toBe(a.results.length);
      expect(b).toEqual(a);
    } finally {
      for (const i of instances) if (i.proc.exitCode === null && i.proc.signalCode === null) i.proc.kill('SIGKILL');
      await Promise.all(instances.map((i) => i.exited));
      await hub.stop();
      await rm(testLog.dir, { recursive: true, force: true });
    }
  }, 240_000);
});
