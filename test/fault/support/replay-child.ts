// A child for the checkpoint-replay SIGKILL test: journals a fixed sequence of readings one by
// one into a real LevelDB and steps the analytics pipeline every few, resuming after the last
// journaled reading when restarted. The stage's clock is the newest arrival time, so what it
// computes does not depend on where a kill cut the steps. Prints `at N` after each step; once
// every reading is through, closes the last windows and prints `done <outbox as JSON>`.
// A step's records go in batches of a few, so a kill can also land between two batches of one step.
import { ManualClock } from '../../../agent/core/clock.js';
import type { StampedReading } from '../../../agent/core/reading.js';
import { silentLogger } from '../../../agent/core/logger.js';
import { Journal } from '../../../agent/journal/journal.js';
import { Outbox } from '../../../agent/outbox/outbox.js';
import { AnalyticsStage } from '../../../agent/pipeline/analytics-stage.js';
import { Pipeline } from '../../../agent/pipeline/pipeline.js';
import { AgentStore } from '../../../agent/store/store.js';

const [dataDir, totalText, everyEventsText, perBatchText] = process.argv.slice(2) as [string, string, string, string];
const TOTAL = Number(totalText);
const T0 = Date.UTC(2026, 0, 1);

/** Reading i: 4 points, every 250 ms, a pause now and then (sessions close), some late and out of order. */
function reading(i: number): StampedReading {
  const arrival = T0 + i * 250 + Math.floor(i / 150) * 6000;
  const appTime = arrival - 100 - (i % 11 === 0 ? 1800 : 0) - (i % 37 === 0 ? 9000 : 0);
  return { source: `plc-${i % 2}`, point: `p${i % 4}`, value: (i * 53) % 97, quality: 'good', receivedAt: appTime, appTime, arrivalTime: arrival };
}

const stage = new AnalyticsStage({
  queries: [
    { name: 'avg5s', query: 'SELECT source, point, COUNT(*) AS n, AVG(value) AS avg FROM readings TIMESTAMP BY appTime GROUP BY source, point, TumblingWindow(second, 5)' },
    { name: 'hop', query: 'SELECT point, MIN(value) AS min, MAX(value) AS max FROM readings TIMESTAMP BY appTime GROUP BY point, HoppingWindow(second, 10, 2)' },
    { name: 'slide', query: 'SELECT point, AVG(value) AS avg FROM readings TIMESTAMP BY appTime GROUP BY point, SlidingWindow(second, 3) HAVING AVG(value) > 60' },
    { name: 'session', query: 'SELECT source, COUNT(*) AS n FROM readings TIMESTAMP BY appTime GROUP BY source, SessionWindow(second, 2, 30)' },
  ],
  tolerances: { lateArrivalMs: 5000, outOfOrderMs: 2000, policy: 'adjust' },
  maxStateEntries: 100_000,
  forwardReadings: false,
  logger: silentLogger,
});

const store = await AgentStore.open(dataDir);
const journal = new Journal(store);
const outbox = new Outbox(store);
const clock = new ManualClock(T0);
const pipeline = new Pipeline(store, journal, outbox, stage, clock, silentLogger, 17, 1000, true, { everyMs: 1e12, everyEvents: Number(everyEventsText), maxSteps: 1e9 }, Number(perBatchText));
await pipeline.init();
await journal.init(pipeline.position);
await outbox.init();

const drain = async () => {
  while ((await pipeline.step()) > 0);
};
// Positions are dense from 1: the journal's last position is how many readings it holds.
let next = journal.lastPosition;
if (next > 0) clock.set(reading(next - 1).arrivalTime);
await drain();
for (; next < TOTAL; next++) {
  const r = reading(next);
  await journal.append([r]);
  clock.set(r.arrivalTime);
  if (next % 5 === 4) {
    await drain();
    process.stdout.write(`at ${next}\n`);
  }
}
clock.advance(120_000);
await drain();
await pipeline.step();
const records = (await outbox.read(0, 1_000_000)).map((r) => JSON.parse(r.json) as unknown);
await store.close();
process.stdout.write(`done ${JSON.stringify(records)}\n`);
