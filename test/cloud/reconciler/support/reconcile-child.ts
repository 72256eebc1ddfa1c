/**
 * Child process for the SIGKILL test: reads the emulator's message log in a data dir (read-only,
 * as `edge-agent cloud run --hub-data-dir` does), runs a Reconciler into the store until the log
 * is drained, and reports every committed batch to the parent (which SIGKILLs it at a random one).
 *
 * argv: <hub data dir> <store location> <batch size>
 */
import { ManualClock } from '../../../../agent/core/clock.js';
import { openStore } from '../../../../cloud/reconciler/open-store.js';
import { Reconciler } from '../../../../cloud/reconciler/reconciler.js';
import { MessageLogSource } from '../../../../cloud/reconciler/sources/message-log-source.js';
import type { CommitBatch, ReconcilerStore } from '../../../../cloud/reconciler/store.js';
import { openMessageLogReader } from '../../../../cloud/iothub/index.js';

const [dataDir, location, batchSize] = process.argv.slice(2);
const log = await openMessageLogReader(dataDir!);

const store: ReconcilerStore = openStore(location!);
let commits = 0;
// Wraps the real store: reports after each commit returns (i.e. is durable).
const reporting: ReconcilerStore = {
  kind: store.kind,
  migrate: () => store.migrate(),
  load: (source) => store.load(source),
  loadCheckpoints: (source) => store.loadCheckpoints(source),
  commit: async (batch: CommitBatch) => {
    await store.commit(batch);
    commits += 1;
    process.send?.({ commits });
  },
  results: (f) => store.results(f),
  readings: (d) => store.readings(d),
  events: (d) => store.events(d),
  gaps: () => store.gaps(),
  devices: () => store.devices(),
  rowCounts: () => store.rowCounts(),
  close: () => store.close(),
};

const reconciler = new Reconciler({
  source: new MessageLogSource(log),
  store: reporting,
  clock: new ManualClock(Date.UTC(2026, 10, 20)),
  batchSize: Number(batchSize),
});
for (;;) {
  const s = await reconciler.runOnce();
  if (s.events === 0) break;
}
await store.close();
await log.close();
process.send?.({ done: true });
process.disconnect?.();
