import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { childLimit, LONG_MS } from '../../support/child.js';
import { expectStoreMatchesTruth } from './support/compare.js';
import { openTestLog } from './support/real-log.js';
import { buildScenario, mulberry32, type ScenarioOptions } from './support/scenario.js';
import { allStores, type StoreFactory } from './support/stores.js';

const child = fileURLToPath(new URL('./support/reconcile-child.ts', import.meta.url));
const BATCH = 50;

/** A large log with every fault that needs no resend (the child has no device to ask). */
const options: ScenarioOptions = {
  seed: 4242,
  devices: 16,
  recordsPerDevice: 1500,
  perMessage: 10,
  duplicateRate: 0.15,
  reorderRate: 0.15,
  reviseRate: 0.3,
  rebootEvery: 500,
  outageMs: 2 * 86_400_000,
};

interface Outcome {
  killedAt?: number;
  done: boolean;
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** Runs the child; when `killAfter` is given, SIGKILLs it as soon as it reports that many commits. */
function runChild(dataDir: string, location: string, killAfter?: number): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const proc: ChildProcess = fork(child, [dataDir, location, String(BATCH)], {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      ...childLimit(LONG_MS),
    });
    let stderr = '';
    proc.stderr?.on('data', (b: Buffer) => (stderr += b.toString()));
    const outcome: Outcome = { done: false, code: null, signal: null };
    proc.on('message', (m: { commits?: number; done?: boolean }) => {
      if (m.done) outcome.done = true;
      if (killAfter !== undefined && m.commits === killAfter && outcome.killedAt === undefined) {
        outcome.killedAt = m.commits;
        proc.kill('SIGKILL');
      }
    });
    proc.on('error', reject);
    proc.on('exit', (code, signal) => {
      outcome.code = code;
      outcome.signal = signal;
      if (outcome.killedAt === undefined && code !== 0) reject(new Error(`reconciler child failed (${code ?? signal}): ${stderr.slice(-2000)}`));
      else resolve(outcome);
    });
  });
}

function killSuite(stores: StoreFactory, seed: number): void {
  describe(`reconciler SIGKILLed mid-batch, ${stores.name}`, () => {
    afterAll(() => stores.cleanup());

    it('restarts from the committed checkpoint: the table equals the ground truth, nothing counted twice', async () => {
      const scenario = buildScenario(options);
      const batches = Math.ceil(scenario.deliveries.length / BATCH);
      const log = await openTestLog(scenario.deliveries);
      const store = await stores.create();
      await store.migrate();
      const location = stores.locationOf(store);
      await store.close();

      // Two kills at random commits (seeded, printed on failure), then a run to completion.
      const rnd = mulberry32(seed);
      const first = 1 + Math.floor(rnd() * (batches / 3));
      const second = 1 + Math.floor(rnd() * (batches / 3));
      const a = await runChild(log.dir, location, first);
      const b = await runChild(log.dir, location, second);
      for (const o of [a, b]) expect(o, `kill points ${first}, ${second} of ~${batches}`).toMatchObject({ signal: 'SIGKILL', done: false });
      const c = await runChild(log.dir, location);
      expect(c).toMatchObject({ done: true, code: 0 });

      const reopened = await stores.reopen(store);
      try {
        await reopened.migrate();
        // The outage backlog holds a whole boot, so boots are only bounded (see compare.ts).
        await expectStoreMatchesTruth(reopened, scenario.truth, { exactBoots: false });
        const devices = await reopened.devices();
        // Double counting after a replay would show as extra records or duplicates.
        expect(devices.reduce((n, d) => n + d.records, 0)).toBe(scenario.recordCount);
      } finally {
        await reopened.close();
        await log.close();
      }
    });
  });
}

const seed = Number(process.env.RECONCILER_KILL_SEED ?? Date.now() % 100_000);
for (const stores of allStores()) killSuite(stores, seed);
