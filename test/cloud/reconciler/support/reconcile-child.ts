/**
 * Child process for the SIGKILL test: regenerates the scenario's log from its seed, runs a
 * Reconciler into the store at argv[3] until the log is drained, and reports every committed
 * batch to the parent (which kills it with SIGKILL at a random one).
 *
 * argv: <scenario options JSON> <store location> <batch size>
 */
import { ManualClock } from '../../../../agent/core/clock.js';
import { openStore } from '../../../../cloud/reconciler/open-store.js';
import { Reconciler } from '../../../../cloud/reconciler/reconciler.js';
import { MessageLogSource } from '../../../../cloud/reconciler/sources/message-log-source.js';
import type { CommitBatch, ReconcilerStore } from '../../../../cloud/reconciler/store.js';
import { InMemoryMessageLogDouble } from './message-log-double.js';
import { buildScenario, type ScenarioOptions } from './scenario.js';

const [optionsJson, location, batchSize] = process.argv.slice(2);
const options = JSON.parse(optionsJson!) as ScenarioOptions;
const scenario = buildScenario(options);
const log = new InMemoryMessageLogDouble(4);
for (const d of scenario.deliveries) log.append(d.telemetry, d.enqueuedTime);

const store: ReconcilerStore = openStore(location!);
let commits = 0;
// Wraps the real store: reports after each commit returns (i.e. is durable).
const reporting: ReconcilerStore = {
  kind: store.kind,
  migrate: () => store.migrate(),
  load: (source) => store.load(source),
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
process.send?.({ done: true });
process.disconnect?.();
