/**
 * Child process for the scale-out test: one reconciler instance reading the emulator's AMQP
 * Event Hub-compatible endpoint with the real EventHubConsumerClient, partition ownership in the
 * shared PostgreSQL (PostgresOwnership), rows and checkpoints in the same database. Reports to
 * the parent over IPC: `ready` once the store is migrated, each commit (partition, next), and the
 * partitions it owns after every pass. Starts reading on `go`, stops cleanly on `stop`.
 *
 * argv: <event hubs connection string> <postgres url> <batch size> <instance id>
 */
import { ManualClock, systemClock } from '../../../../agent/core/clock.js';
import { errorMessage } from '../../../../agent/core/errors.js';
import { waitAny } from '../../../../agent/core/signal.js';
import { PostgresOwnership } from '../../../../cloud/reconciler/checkpoint-store/postgres-ownership.js';
import { Reconciler } from '../../../../cloud/reconciler/reconciler.js';
import { EventHubsSource } from '../../../../cloud/reconciler/sources/event-hubs-source.js';
import type { CommitBatch, ReconcilerStore } from '../../../../cloud/reconciler/store.js';
import { PostgresStore } from '../../../../cloud/reconciler/stores/postgres-store.js';

export type ChildReport =
  | { ready: true }
  | { commit: { partitionId: string; next: number }; owned: string[] }
  | { owned: string[]; idle: boolean }
  | { error: string };

const [connectionString, url, batchSize, instanceId] = process.argv.slice(2);
const report = (m: ChildReport): void => void process.send?.(m);

const store = new PostgresStore(url!);
await store.migrate();
const reporting: ReconcilerStore = Object.assign(Object.create(store) as ReconcilerStore, {
  commit: async (batch: CommitBatch) => {
    await store.commit(batch);
    for (const cp of batch.checkpoints) if (cp.expectedNext !== cp.next) report({ commit: { partitionId: cp.partitionId, next: cp.next }, owned: await source.partitionIds() });
  },
});
const source = new EventHubsSource({
  connectionString: connectionString!,
  ownership: new PostgresOwnership(url!),
  instanceId,
  // Fast enough for a test: renew every 200 ms; an owner silent for 2 s loses its partitions.
  loadBalancing: { strategy: 'balanced', updateIntervalInMs: 200, partitionOwnershipExpirationIntervalInMs: 2000 },
});
const reconciler = new Reconciler({
  source,
  store: reporting,
  // The same fixed time as the single reconciler it is compared with (gaps carry opened_at).
  clock: new ManualClock(Date.UTC(2026, 10, 20)),
  batchSize: Number(batchSize),
});

let stopping = false;
process.on('message', (m: unknown) => {
  if (m === 'go') void run();
  if (m === 'stop') stopping = true;
});
report({ ready: true });

async function run(): Promise<void> {
  while (!stopping) {
    let idle = false;
    try {
      const s = await reconciler.runOnce();
      idle = s.events === 0;
    } catch (err) {
      // A compare-and-set refusal (another instance moved the partition on) reloads and carries on.
      report({ error: errorMessage(err) });
    }
    report({ owned: await source.partitionIds(), idle });
    // Woken by the client handing over events; the bound lets ownership moves show without any.
    if (idle) await waitAny([source.arrived], { clock: systemClock, ms: 200 });
  }
  await source.close();
  await store.close();
  process.disconnect?.();
}
