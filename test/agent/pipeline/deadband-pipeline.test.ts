import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../agent/core/clock.js';
import { silentLogger } from '../../../agent/core/logger.js';
import type { StampedReading } from '../../../agent/core/reading.js';
import { Journal } from '../../../agent/journal/journal.js';
import { Outbox } from '../../../agent/outbox/outbox.js';
import { AnalyticsStage } from '../../../agent/pipeline/analytics-stage.js';
import { Deadband, DeadbandRules, SuppressedCounts } from '../../../agent/pipeline/deadband.js';
import { Pipeline, type CheckpointPolicy } from '../../../agent/pipeline/pipeline.js';
import { forwardingStage, type RecordStage } from '../../../agent/pipeline/stage.js';
import { AgentStore } from '../../../agent/store/store.js';
import { deadbandsOf } from '../../../drivers/registry.js';
import { tempDir } from '../../support/tmp.js';

const T0 = Date.UTC(2026, 0, 1);
const NEVER: CheckpointPolicy = { everyMs: 1e12, everyEvents: 1e9, maxSteps: 1e9 };

/** The rules a synthetic driver section with a default deadband and one point of its own gives. */
const RULES = new DeadbandRules([
  deadbandsOf({
    type: 'synthetic',
    name: 'line',
    source: 'plc',
    intervalMs: 1000,
    deadband: { absolute: 1, maxSilenceMs: 20_000 },
    points: [{ name: 'a' }, { name: 'b' }, { name: 'c', deadband: false }],
  }),
]);

/** One reading a second per point for `n` seconds from `from`: a and b swing slowly (b mirrored), c repeats. */
function readings(from: number, n: number): StampedReading[] {
  const out: StampedReading[] = [];
  for (let s = from; s < from + n; s++) {
    const t = T0 + s * 1000;
    const walk = Math.round(30 * Math.sin(s / 5)) / 10;
    for (const [point, value] of [['a', walk], ['b', 0 - walk], ['c', 1]] as const) {
      out.push({ driver: 'line', source: 'plc', point, value, quality: 'good', receivedAt: t, appTime: t, arrivalTime: t + 10 });
    }
  }
  return out;
}

async function open(path: string, clock: ManualClock, stage: RecordStage, checkpoints: CheckpointPolicy = NEVER) {
  const store = await AgentStore.open(path);
  const journal = new Journal(store);
  const outbox = new Outbox(store);
  const pipeline = new Pipeline(store, journal, outbox, stage, clock, silentLogger, 17, 1000, true, checkpoints);
  await pipeline.init();
  await journal.init(pipeline.position);
  await outbox.init();
  return { store, journal, outbox, pipeline };
}

type Open = Awaited<ReturnType<typeof open>>;
type Rec = { kind: string; pt?: string; v?: number; t: number; query?: string; row?: { n?: number } };

async function feed(p: Open, clock: ManualClock, rs: StampedReading[]): Promise<void> {
  for (let i = 0; i < rs.length; i += 3) {
    clock.set(rs[i]!.arrivalTime);
    await p.journal.append(rs.slice(i, i + 3));
    if (i % 12 === 0) while ((await p.pipeline.step()) > 0);
  }
  while ((await p.pipeline.step()) > 0);
}

async function records(p: Open): Promise<Rec[]> {
  return (await p.outbox.read(0, 100_000)).map((r) => JSON.parse(r.json) as Rec);
}

/** What the filter must let through, worked out independently: the rules of drivers/deadband.ts, by hand. */
function expectedForwarded(rs: StampedReading[]): StampedReading[] {
  const last = new Map<string, { v: number; t: number }>();
  return rs.filter((r) => {
    if (r.point === 'c') return true;
    const l = last.get(r.point);
    const v = r.value as number;
    if (l && Math.abs(v - l.v) <= 1 && r.appTime - l.t < 20_000) return false;
    last.set(r.point, { v, t: r.appTime });
    return true;
  });
}

const dirs: Array<{ cleanup: () => void }> = [];
afterEach(() => dirs.splice(0).forEach((d) => d.cleanup()));

function dir(name: string): string {
  const d = tempDir(name);
  dirs.push(d);
  return d.path;
}

describe('deadband through the real pipeline (LevelDB on disk)', () => {
  it('forwards by exception; after a restart the first reading of each point passes', async () => {
    const path = dir('deadband-stateless');
    const clock = new ManualClock(T0);
    const counts = new SuppressedCounts();
    let p = await open(path, clock, forwardingStage(new Deadband(RULES, counts)));
    const first = readings(0, 60);
    await feed(p, clock, first);
    const sent = (await records(p)).filter((r) => r.kind === 'reading');
    const want = expectedForwarded(first);
    expect(sent.map((r) => [r.pt, r.v, r.t])).toEqual(want.map((r) => [r.point, r.value, r.appTime]));
    expect(want.length).toBeLessThan(first.length * 0.75); // the walk gives the filter something to keep back
    expect(counts.total).toBe(first.length - want.length);
    await p.store.close();

    // A new process: the filter starts empty, so a and b pass at once though within their band.
    p = await open(path, clock, forwardingStage(new Deadband(RULES, new SuppressedCounts())));
    const next = readings(60, 2);
    await feed(p, clock, next);
    const after = (await records(p)).slice(sent.length);
    expect(after.map((r) => [r.pt, r.v])).toEqual(expectedForwarded(next).map((r) => [r.point, r.value]));
    expect(after.filter((r) => r.t === T0 + 60_000).map((r) => r.pt)).toEqual(['a', 'b', 'c']);
    await p.store.close();
  });

  it('analytics still sees every reading: a COUNT over the windows equals all readings, the forwarded ones are fewer', async () => {
    const path = dir('deadband-analytics');
    const clock = new ManualClock(T0);
    const stage = new AnalyticsStage({
      queries: [{ name: 'n', query: 'SELECT point, COUNT(*) AS n FROM readings TIMESTAMP BY appTime GROUP BY point, TumblingWindow(second, 10)' }],
      tolerances: { lateArrivalMs: 5000, outOfOrderMs: 0, policy: 'adjust' },
      maxStateEntries: 100_000,
      forwardReadings: true,
      logger: silentLogger,
      deadband: new Deadband(RULES, new SuppressedCounts()),
    });
    const p = await open(path, clock, stage);
    // 59.5 s of readings (application times T0 … T0+59 s): the windows (T0-10 s, T0], … (T0+50 s, T0+60 s] hold them all.
    const rs = readings(0, 60);
    await feed(p, clock, rs);
    clock.set(T0 + 120_000);
    await p.pipeline.step();
    const out = await records(p);
    const counted = out.filter((r) => r.kind === 'result').reduce((n, r) => n + (r.row?.n ?? 0), 0);
    expect(counted).toBe(rs.length);
    expect(out.filter((r) => r.kind === 'reading').map((r) => [r.pt, r.v, r.t])).toEqual(expectedForwarded(rs).map((r) => [r.point, r.value, r.appTime]));
    await p.store.close();
  });

  it('with analytics, the filter is checkpointed with the stage: restarts between checkpoints forward what an uninterrupted run forwards', async () => {
    const stage = () =>
      new AnalyticsStage({
        queries: [{ name: 'n', query: 'SELECT point, COUNT(*) AS n FROM readings TIMESTAMP BY appTime GROUP BY point, TumblingWindow(second, 10)' }],
        tolerances: { lateArrivalMs: 5000, outOfOrderMs: 0, policy: 'adjust' },
        maxStateEntries: 100_000,
        forwardReadings: true,
        logger: silentLogger,
        deadband: new Deadband(RULES, new SuppressedCounts()),
      });
    const rs = readings(0, 90);
    const run = async (crashAt: number[]): Promise<Rec[]> => {
      const path = dir('deadband-replay');
      const clock = new ManualClock(T0);
      // A checkpoint every 40 entries: each crash leaves a checkpoint and a tail to replay after it.
      const policy: CheckpointPolicy = { everyMs: 1e12, everyEvents: 40, maxSteps: 1e9 };
      let p = await open(path, clock, stage(), policy);
      // Stepped as feed() steps, whatever the crashes, so both runs cut the same steps.
      for (let i = 0; i < rs.length; i += 3) {
        if (crashAt.includes(i)) {
          await p.store.close(); // no stop(): what a kill leaves
          p = await open(path, clock, stage(), policy);
        }
        clock.set(rs[i]!.arrivalTime);
        await p.journal.append(rs.slice(i, i + 3));
        if (i % 12 === 0) while ((await p.pipeline.step()) > 0);
      }
      while ((await p.pipeline.step()) > 0);
      clock.set(T0 + 200_000);
      await p.pipeline.step();
      const out = await records(p);
      await p.store.close();
      return out;
    };
    const want = await run([]);
    expect(want.filter((r) => r.kind === 'reading').length).toBe(expectedForwarded(rs).length);
    for (const crashes of [[51], [96, 183], [30, 75, 150, 201]]) expect(await run(crashes), `crashes at ${crashes.join(', ')}`).toEqual(want);
  });
});
