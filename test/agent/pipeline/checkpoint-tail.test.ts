import { afterEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ManualClock } from '../../../agent/core/clock.js';
import type { StampedReading } from '../../../agent/core/reading.js';
import { silentLogger } from '../../../agent/core/logger.js';
import { Journal } from '../../../agent/journal/journal.js';
import { Outbox } from '../../../agent/outbox/outbox.js';
import { AnalyticsStage } from '../../../agent/pipeline/analytics-stage.js';
import { Pipeline, type CheckpointPolicy } from '../../../agent/pipeline/pipeline.js';
import { readingsStage, type RecordStage } from '../../../agent/pipeline/stage.js';
import { AnalyticsEngine, compileQuery, eventFromReading } from '../../../agent/analytics/index.js';
import { decodeChecked, encodeChecked } from '../../../agent/store/checksum.js';
import type { StageTail } from '../../../agent/pipeline/stage-tail.js';
import { AgentStore } from '../../../agent/store/store.js';
import { stamped } from '../../support/readings.js';
import { tempDir } from '../../support/tmp.js';

const T0 = Date.UTC(2026, 0, 1);
const NEVER: CheckpointPolicy = { everyMs: 1e12, everyEvents: 1e9, maxSteps: 1e9 };

function analytics(policy: 'adjust' | 'drop' = 'adjust'): AnalyticsStage {
  return new AnalyticsStage({
    queries: [
      { name: 'n10s', query: 'SELECT point, COUNT(*) AS n, AVG(value) AS avg FROM readings TIMESTAMP BY appTime GROUP BY point, TumblingWindow(second, 10)' },
      { name: 'slide', query: 'SELECT point, MAX(value) AS max FROM readings TIMESTAMP BY appTime GROUP BY point, SlidingWindow(second, 5) HAVING COUNT(*) > 2' },
      { name: 'session', query: 'SELECT point, COUNT(*) AS n FROM readings TIMESTAMP BY appTime GROUP BY point, SessionWindow(second, 3, 20)' },
    ],
    tolerances: { lateArrivalMs: 5000, outOfOrderMs: 2000, policy },
    maxStateEntries: 100_000,
    forwardReadings: false,
    logger: silentLogger,
  });
}

async function open(path: string, clock: ManualClock, stage: RecordStage, checkpoints: CheckpointPolicy, maxDraftsPerBatch?: number) {
  const store = await AgentStore.open(path);
  const journal = new Journal(store);
  const outbox = new Outbox(store);
  const pipeline = new Pipeline(store, journal, outbox, stage, clock, silentLogger, 23, 1000, true, checkpoints, maxDraftsPerBatch);
  await pipeline.init();
  await journal.init(pipeline.position);
  await outbox.init();
  return { store, journal, outbox, pipeline, stage };
}

type Open = Awaited<ReturnType<typeof open>>;

async function outboxContent(p: Open): Promise<unknown[]> {
  return (await p.outbox.read(0, 100_000)).map((r) => JSON.parse(r.json) as unknown);
}

/** 240 readings on 3 points with gaps (sessions close) and some out of order and late. */
const readings: StampedReading[] = Array.from({ length: 240 }, (_, i) => {
  const gap = Math.floor(i / 60) * 8000;
  const appTime = T0 + i * 400 + gap - (i % 9 === 0 ? 2500 : 0);
  return stamped(i, { point: `p${i % 3}`, value: (i * 37) % 101, appTime, receivedAt: appTime, arrivalTime: T0 + i * 400 + gap + 150 });
});

const dirs: Array<{ cleanup: () => void }> = [];
afterEach(() => dirs.splice(0).forEach((d) => d.cleanup()));

/**
 * Feeds the readings one arrival at a time, stepping every 5; before each index in `crashes`
 * the store is closed without stopping the pipeline (what a SIGKILL leaves, minus the OS).
 */
async function run(crashes: number[], checkpoints: CheckpointPolicy, seen?: { tailAtCrash: number[] }): Promise<unknown[]> {
  const dir = tempDir('checkpoint-tail');
  dirs.push(dir);
  const clock = new ManualClock(T0);
  let p = await open(dir.path, clock, analytics(), checkpoints);
  for (let i = 0; i < readings.length; i++) {
    if (crashes.includes(i)) {
      seen?.tailAtCrash.push((await p.journal.read(0, 100_000)).length);
      await p.store.close();
      p = await open(dir.path, clock, analytics(), checkpoints);
    }
    clock.set(readings[i]!.arrivalTime);
    await p.journal.append([readings[i]!]);
    if (i % 5 === 0) while ((await p.pipeline.step()) > 0);
  }
  clock.advance(60_000);
  while ((await p.pipeline.step()) > 0);
  await p.pipeline.step();
  const out = await outboxContent(p);
  await p.store.close();
  return out;
}

describe('stateful stage: checkpoint at intervals, replay the journal tail after a restart', () => {
  let baseline: unknown[] | undefined;
  const expected = async () => (baseline ??= await run([], NEVER));

  it('an uninterrupted run emits results of every kind of window', async () => {
    const out = (await expected()) as Array<{ kind: string; query: string }>;
    expect(out.every((r) => r.kind === 'result')).toBe(true);
    expect(new Set(out.map((r) => r.query))).toEqual(new Set(['n10s', 'slide', 'session']));
  });

  it('restarts between checkpoints give the outbox an uninterrupted run gives, seq for seq', async () => {
    const want = await expected();
    const seen = { tailAtCrash: [] as number[] };
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(fc.integer({ min: 1, max: readings.length - 1 }), { minLength: 1, maxLength: 3 }),
        fc.integer({ min: 20, max: 400 }),
        async (crashes, everyEvents) => {
          expect(await run(crashes, { everyMs: 1e12, everyEvents, maxSteps: 1e9 }, seen)).toEqual(want);
        },
      ),
      { numRuns: 10 },
    );
    // The journal still held what the last checkpoint had not covered at most crashes: the
    // replays had work to do. (One crash may land just after a checkpoint, with an empty tail:
    // asked of every run, this failed for crashes [26] with a checkpoint every 22 events.)
    expect(seen.tailAtCrash.filter((n) => n > 0).length).toBeGreaterThan(seen.tailAtCrash.length / 2);
  });

  it('with no checkpoint before the crash, the whole run replays from the journal', async () => {
    const seen = { tailAtCrash: [] as number[] };
    expect(await run([200], NEVER, seen)).toEqual(await expected());
    expect(seen.tailAtCrash[0]).toBeGreaterThanOrEqual(195);
  });

  it('the journal keeps consumed entries until the batch that checkpoints deletes them', async () => {
    const dir = tempDir('checkpoint-tail-keep');
    dirs.push(dir);
    const clock = new ManualClock(T0);
    const p = await open(dir.path, clock, analytics(), { everyMs: 10_000, everyEvents: 1e9, maxSteps: 1e9 });
    await p.journal.append(readings.slice(0, 10));
    clock.set(T0 + 5000);
    while ((await p.pipeline.step()) > 0);
    expect(p.pipeline.position).toBe(10);
    expect((await p.journal.read(0, 100)).map((e) => e.position)).toEqual(Array.from({ length: 10 }, (_, i) => i + 1));
    await p.journal.append(readings.slice(10, 15));
    clock.set(T0 + 10_000);
    while ((await p.pipeline.step()) > 0);
    expect(await p.journal.read(0, 100)).toEqual([]);
    await p.store.close();
  });

  it('a step that only moved the clock is replayed too: a reading it made late stays dropped', async () => {
    const drop = { lateArrivalMs: 5000, outOfOrderMs: 0, policy: 'drop' as const };
    const count = 'SELECT COUNT(*) AS n FROM readings TIMESTAMP BY appTime GROUP BY TumblingWindow(second, 10)';
    const stage = () => new AnalyticsStage({ queries: [{ name: 'n', query: count }], tolerances: drop, maxStateEntries: 1000, forwardReadings: false, logger: silentLogger });
    const go = async (restart: boolean) => {
      const dir = tempDir('checkpoint-tail-quiet');
      dirs.push(dir);
      const clock = new ManualClock(T0 + 1000);
      let p = await open(dir.path, clock, stage(), NEVER);
      await p.journal.append([stamped(0, { appTime: T0 + 1000, receivedAt: T0 + 1000, arrivalTime: T0 + 1000 })]);
      expect(await p.pipeline.step()).toBe(1);
      clock.set(T0 + 9000);
      expect(await p.pipeline.step()).toBe(0); // nothing consumed or produced; the watermark is now T0 + 4 s
      // Stamped before that step, journaled after it: older than the watermark, so dropped.
      await p.journal.append([stamped(1, { appTime: T0 + 2000, receivedAt: T0 + 2000, arrivalTime: T0 + 2500 })]);
      expect(await p.pipeline.step()).toBe(1);
      if (restart) {
        await p.store.close();
        p = await open(dir.path, clock, stage(), NEVER);
      }
      clock.set(T0 + 60_000);
      await p.pipeline.step();
      const out = (await outboxContent(p)) as Array<{ row: { n: number } }>;
      await p.store.close();
      return out.map((r) => r.row.n);
    };
    expect(await go(false)).toEqual([1]);
    expect(await go(true)).toEqual([1]);
  });

  it('the event loop runs between two parts of a checkpoint, and no step does', async () => {
    const dir = tempDir('checkpoint-tail-parts');
    dirs.push(dir);
    const clock = new ManualClock(T0);
    const inner = analytics();
    const between: Array<{ timerRan: boolean; stepsSoFar: number }> = [];
    let timerRan = false;
    let steps = 0;
    // The real stage, its checkpoint watched: a timer set as the first part is made must have run
    // before the next part is asked for (a driver's poll, in the agent).
    const stage: RecordStage = {
      process: (entries, now) => {
        steps++;
        return inner.process(entries, now);
      },
      restore: (state) => inner.restore(state),
      *checkpoint() {
        for (const part of inner.checkpoint()) {
          between.push({ timerRan, stepsSoFar: steps });
          timerRan = false;
          setTimeout(() => (timerRan = true), 0);
          yield part;
        }
      },
    };
    const p = await open(dir.path, clock, stage, NEVER);
    await p.journal.append(readings.slice(0, 30));
    clock.set(readings[29]!.arrivalTime);
    while ((await p.pipeline.step()) > 0);
    const stepsBefore = steps;
    // A step asked for while the checkpoint is being made waits for it.
    const checkpointed = p.pipeline.checkpoint();
    const stepped = p.pipeline.step();
    await Promise.all([checkpointed, stepped]);
    expect(between).toHaveLength(3);
    expect(between.slice(1).map((b) => b.timerRan)).toEqual([true, true]);
    expect(between.map((b) => b.stepsSoFar)).toEqual([stepsBefore, stepsBefore, stepsBefore]);
    expect(steps).toBe(stepsBefore + 1);
    // And what it wrote restores: the next start replays nothing.
    expect(await p.journal.read(0, 100)).toEqual([]);
    await p.store.close();
  });

  it('stop() checkpoints, so the next start replays nothing; a stateless stage after a stateful one drops the kept tail', async () => {
    const dir = tempDir('checkpoint-tail-switch');
    dirs.push(dir);
    const clock = new ManualClock(T0);
    let p = await open(dir.path, clock, analytics(), NEVER);
    await p.journal.append(readings.slice(0, 30));
    clock.set(readings[29]!.arrivalTime);
    while ((await p.pipeline.step()) > 0);
    expect((await p.journal.read(0, 100)).length).toBe(30);
    await p.pipeline.stop();
    expect(await p.journal.read(0, 100)).toEqual([]);
    await p.journal.append(readings.slice(30, 40));
    while ((await p.pipeline.step()) > 0);
    expect((await p.journal.read(0, 100)).length).toBe(10);
    await p.store.close();

    p = await open(dir.path, clock, readingsStage, NEVER);
    expect(await p.journal.read(0, 100)).toEqual([]);
    await p.journal.append(readings.slice(40, 45));
    while ((await p.pipeline.step()) > 0);
    const out = (await outboxContent(p)) as Array<{ kind: string; v: number }>;
    expect(out.filter((r) => r.kind === 'reading').map((r) => r.v)).toEqual(readings.slice(40, 45).map((r) => r.value));
    await p.store.close();

    // And back: the stateful stage starts from its old checkpoint at the current cursor.
    p = await open(dir.path, clock, analytics(), NEVER);
    expect(p.pipeline.position).toBe(45);
    await p.store.close();
  });

  it('a store from before tails (the checkpoint of all queries, JSON-encoded as a string, at the cursor) resumes', async () => {
    const dir = tempDir('checkpoint-tail-old');
    dirs.push(dir);
    const query = 'SELECT point, COUNT(*) AS n FROM readings TIMESTAMP BY appTime GROUP BY point, TumblingWindow(second, 10)';
    const engine = new AnalyticsEngine({ queries: [compileQuery(query, 'n')] });
    for (const r of readings.slice(0, 20)) engine.push(eventFromReading(r));
    const store = await AgentStore.open(dir.path);
    await store.meta.put('journalCursor', encodeChecked(20));
    await store.meta.put('stageState', encodeChecked(JSON.stringify(engine.checkpoint())));
    await store.close();
    const stage = new AnalyticsStage({ queries: [{ name: 'n', query }], tolerances: {}, maxStateEntries: 1000, forwardReadings: false, logger: silentLogger });
    const p = await open(dir.path, new ManualClock(T0), stage, NEVER);
    expect(p.pipeline.position).toBe(20);
    expect(stage.counters().n!.inputEvents).toBe(20);
    await p.store.close();
  });

  it('a step that fails after the stage saw its entries rebuilds the stage from the store: nothing counted twice', async () => {
    /** Fails once, after the real stage has taken the entries in: what a failed batch leaves too. */
    class FailingOnce implements RecordStage {
      calls = 0;
      constructor(readonly inner: AnalyticsStage, readonly failAt: number) {}
      process(entries: Parameters<RecordStage['process']>[0], now: number) {
        const out = this.inner.process(entries, now);
        if (entries.length > 0 && ++this.calls === this.failAt) throw new Error('injected: the batch did not commit');
        return out;
      }
      checkpoint() {
        return this.inner.checkpoint();
      }
      restore(state: string | undefined) {
        this.inner.restore(state);
      }
    }
    const go = async (failAt: number) => {
      const dir = tempDir('checkpoint-tail-fail');
      dirs.push(dir);
      const clock = new ManualClock(T0);
      const stage = new FailingOnce(analytics(), failAt);
      const p = await open(dir.path, clock, stage, { everyMs: 1e12, everyEvents: 60, maxSteps: 1e9 });
      let failures = 0;
      for (let i = 0; i < readings.length; i++) {
        clock.set(readings[i]!.arrivalTime);
        await p.journal.append([readings[i]!]);
        if (i % 5 === 0) {
          for (;;) {
            try {
              if ((await p.pipeline.step()) === 0) break;
            } catch {
              failures++;
            }
          }
        }
      }
      clock.advance(60_000);
      while ((await p.pipeline.step()) > 0);
      await p.pipeline.step();
      const out = await outboxContent(p);
      await p.store.close();
      return { out, failures };
    };
    const clean = await go(-1);
    expect(clean.failures).toBe(0);
    for (const failAt of [3, 17, 40]) {
      const r = await go(failAt);
      expect(r.failures).toBe(1);
      expect(r.out).toEqual(clean.out);
    }
  });

  describe('a large step output committed in several batches', () => {
    /**
     * The run of `run`, with at most `perBatch` records per batch, and the `cutAt`-th pipeline
     * batch never written: the store is closed instead (what a SIGKILL between two batches of
     * one step leaves) and the pipeline reopened. Returns the outbox and the tail at the cut.
     */
    async function cutRun(perBatch: number, cutAt: number | undefined, checkpoints: CheckpointPolicy) {
      const dir = tempDir('checkpoint-tail-chunks');
      dirs.push(dir);
      const clock = new ManualClock(T0);
      let tailAtCut: StageTail | undefined;
      let writes = 0;
      const arm = (p: Open) => {
        const write = p.store.write.bind(p.store);
        p.store.write = async (ops, options) => {
          if (ops.some((op) => op.sublevel === p.store.outbox) && ++writes === cutAt) {
            const raw = await p.store.meta.get('stageTail');
            tailAtCut = raw ? decodeChecked<StageTail>(raw, 'tail') : undefined;
            await p.store.close();
            throw new Error('injected: killed before this batch');
          }
          return write(ops, options);
        };
        return p;
      };
      let p = arm(await open(dir.path, clock, analytics(), checkpoints, perBatch));
      const drain = async () => {
        for (;;) {
          try {
            if ((await p.pipeline.step()) === 0) return;
          } catch {
            p = arm(await open(dir.path, clock, analytics(), checkpoints, perBatch));
          }
        }
      };
      for (let i = 0; i < readings.length; i++) {
        clock.set(readings[i]!.arrivalTime);
        await p.journal.append([readings[i]!]);
        if (i % 5 === 0) await drain();
      }
      clock.advance(60_000);
      await drain();
      await p.pipeline.step();
      const out = await outboxContent(p);
      await p.store.close();
      return { out, tailAtCut, writes };
    }

    it('batches of 2 records give the outbox of one batch per step, seq for seq', async () => {
      const whole = await expected();
      const r = await cutRun(2, undefined, NEVER);
      expect(r.out).toEqual(whole);
      // More outbox batches than steps that produced: the large outputs were split.
      expect(r.writes).toBeGreaterThan(Math.ceil(whole.length / 2) - 1);
    });

    it('a crash between two batches of one step replays the step and commits only its rest: nothing lost, nothing twice', async () => {
      const want = await expected();
      const total = (await cutRun(2, undefined, NEVER)).writes;
      let cutInsideStep = 0;
      await fc.assert(
        fc.asyncProperty(fc.integer({ min: 2, max: total }), fc.constantFrom(NEVER, { everyMs: 1e12, everyEvents: 45, maxSteps: 1e9 }), async (cutAt, checkpoints) => {
          const r = await cutRun(2, cutAt, checkpoints);
          expect(r.out).toEqual(want);
          if (r.tailAtCut?.steps.at(-1)?.[2] !== undefined) cutInsideStep++;
        }),
        { numRuns: 12 },
      );
      // The cuts did land between two batches of one step (the tail said how far it had got).
      expect(cutInsideStep).toBeGreaterThan(0);
    });

    it('stop() after a cut step commits its rest before the checkpoint', async () => {
      const dir = tempDir('checkpoint-tail-chunks-stop');
      dirs.push(dir);
      const clock = new ManualClock(T0);
      let p = await open(dir.path, clock, analytics(), NEVER, 2);
      await p.journal.append(readings.slice(0, 60));
      clock.set(readings[59]!.arrivalTime + 30_000);
      let cut = false;
      const write = p.store.write.bind(p.store);
      let n = 0;
      p.store.write = async (ops, options) => {
        if (ops.some((op) => op.sublevel === p.store.outbox) && ++n === 2) {
          cut = true;
          await p.store.close();
          throw new Error('injected');
        }
        return write(ops, options);
      };
      await p.pipeline.step().catch(() => undefined);
      expect(cut).toBe(true);
      const raw = await (async () => {
        const s = await AgentStore.open(dir.path);
        const t = await s.meta.get('stageTail');
        await s.close();
        return decodeChecked<StageTail>(t!, 'tail');
      })();
      expect(raw.steps.at(-1)?.[2]).toBe(2);
      p = await open(dir.path, clock, analytics(), NEVER, 2);
      await p.pipeline.stop();
      const stopped = await outboxContent(p);
      await p.store.close();
      // Against the same step taken in one batch.
      const ref = tempDir('checkpoint-tail-chunks-ref');
      dirs.push(ref);
      const q = await open(ref.path, new ManualClock(readings[59]!.arrivalTime + 30_000), analytics(), NEVER);
      await q.journal.append(readings.slice(0, 60));
      await q.pipeline.step();
      const once = await outboxContent(q);
      await q.store.close();
      expect(once.length).toBeGreaterThan(4);
      expect(stopped).toEqual(once);
    });
  });
});
