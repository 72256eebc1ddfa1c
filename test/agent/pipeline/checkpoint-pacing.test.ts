import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../agent/core/clock.js';
import { silentLogger } from '../../../agent/core/logger.js';
import { Journal } from '../../../agent/journal/journal.js';
import { Outbox } from '../../../agent/outbox/outbox.js';
import { checkpointStretch, DEFAULT_CHECKPOINTS, Pipeline, type CheckpointPolicy } from '../../../agent/pipeline/pipeline.js';
import type { RecordStage } from '../../../agent/pipeline/stage.js';
import { AgentStore } from '../../../agent/store/store.js';
import { stamped } from '../../support/readings.js';
import { tempDir } from '../../support/tmp.js';

const T0 = Date.UTC(2026, 0, 1);
const dirs: Array<{ cleanup: () => void }> = [];
afterEach(() => dirs.splice(0).forEach((d) => d.cleanup()));

/** A stateful stage whose checkpoint is `bytes` long, counting how often it is asked for one. */
function sizedStage(bytes: number): RecordStage & { checkpoints: number } {
  const stage = {
    checkpoints: 0,
    process: () => ({ drafts: [] }),
    checkpoint: () => {
      stage.checkpoints++;
      return [Buffer.alloc(bytes, 0x61)];
    },
    restore: () => undefined,
  };
  return stage;
}

/** One reading a second for `seconds`, a step after each; the times (s after T0) of the checkpoints. */
async function checkpointTimes(stage: RecordStage & { checkpoints: number }, policy: CheckpointPolicy, seconds: number): Promise<number[]> {
  const dir = tempDir('checkpoint-pacing');
  dirs.push(dir);
  const store = await AgentStore.open(dir.path);
  const journal = new Journal(store);
  const outbox = new Outbox(store);
  const clock = new ManualClock(T0);
  const pipeline = new Pipeline(store, journal, outbox, stage, clock, silentLogger, 23, 1000, true, policy);
  await pipeline.init();
  await journal.init(pipeline.position);
  await outbox.init();
  const at: number[] = [];
  for (let s = 1; s <= seconds; s++) {
    clock.set(T0 + s * 1000);
    await journal.append([stamped(s, { appTime: T0 + s * 1000 })]);
    const before = stage.checkpoints;
    await pipeline.step();
    if (stage.checkpoints > before) at.push(s);
  }
  await store.close();
  return at;
}

describe('checkpoints paced by their size', () => {
  const policy: CheckpointPolicy = { everyMs: 10_000, everyEvents: 1e9, maxSteps: 1e9, bytesPerSecond: 1000, maxStretch: 4 };

  it('stretches the interval by size over the budget, between 1 and maxStretch', () => {
    expect(checkpointStretch(policy, 5_000)).toBe(1); // under the 10 s × 1,000 B/s budget
    expect(checkpointStretch(policy, 25_000)).toBe(2.5);
    expect(checkpointStretch(policy, 1e9)).toBe(4);
    expect(checkpointStretch({ ...policy, bytesPerSecond: undefined }, 1e9)).toBe(1);
    // The default: a 10-query, 500-point state (~1.5 MB) keeps the 10 s; a 5,000-point one (~16 MB) goes to 60 s.
    expect(checkpointStretch(DEFAULT_CHECKPOINTS, 1.5e6)).toBe(1);
    expect(checkpointStretch(DEFAULT_CHECKPOINTS, 16e6)).toBe(6);
  });

  it('a small state is checkpointed every everyMs; a large one at the stretched interval', async () => {
    expect(await checkpointTimes(sizedStage(5_000), policy, 45)).toEqual([10, 20, 30, 40]);
    // 25,000 B stored (the state and its 4-byte checksum): 2.5 × 10 s after the first
    // checkpoint, which came at the plain interval.
    expect(await checkpointTimes(sizedStage(25_000 - 4), policy, 70)).toEqual([10, 35, 60]);
  });
});
