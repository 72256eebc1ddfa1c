import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../agent/core/clock.js';
import { silentLogger } from '../../../agent/core/logger.js';
import { Journal } from '../../../agent/journal/journal.js';
import { Outbox } from '../../../agent/outbox/outbox.js';
import { Pipeline, type CheckpointPolicy } from '../../../agent/pipeline/pipeline.js';
import { loadCommitted } from '../../../agent/pipeline/stage-tail.js';
import type { RecordStage } from '../../../agent/pipeline/stage.js';
import { readingRecord } from '../../../agent/pipeline/reading-records.js';
import { keyPosition, positionKey } from '../../../agent/store/checksum.js';
import { AgentStore } from '../../../agent/store/store.js';
import { stamped } from '../../support/readings.js';
import { tempDir } from '../../support/tmp.js';

const T0 = Date.UTC(2026, 0, 1);
const dirs: Array<{ cleanup: () => void }> = [];
afterEach(() => dirs.splice(0).forEach((d) => d.cleanup()));

/** Forwards every reading; stateful (it checkpoints) when `stateful`, counting checkpoints. */
function stage(stateful: boolean): RecordStage & { checkpoints: number } {
  const s: RecordStage & { checkpoints: number } = {
    checkpoints: 0,
    process: (entries) => ({ drafts: entries.map((e) => readingRecord(e.reading)) }),
    restore: () => undefined,
  };
  if (stateful) s.checkpoint = () => (s.checkpoints++, [Buffer.from('{}')]);
  return s;
}

async function open(dir: string, st: RecordStage, policy?: CheckpointPolicy) {
  const store = await AgentStore.open(dir);
  const journal = new Journal(store);
  const outbox = new Outbox(store);
  const pipeline = new Pipeline(store, journal, outbox, st, new ManualClock(T0), silentLogger, 5000, 1000, true, policy);
  await pipeline.init();
  await journal.init(pipeline.position);
  await outbox.init();
  return { store, journal, outbox, pipeline };
}

async function journalPositions(store: AgentStore): Promise<number[]> {
  return (await store.journal.keys().all()).map(keyPosition);
}

async function appendN(journal: Journal, from: number, n: number): Promise<void> {
  for (let i = 0; i < n; i += 1000) await journal.append(Array.from({ length: Math.min(1000, n - i) }, (_, k) => stamped(from + i + k, { appTime: T0 + from + i + k })));
}

describe('consumed journal entries are deleted by range, after the write that consumed them', () => {
  it('a stateless stage: every consumed entry goes, the unconsumed stay', async () => {
    const dir = tempDir('journal-release');
    dirs.push(dir);
    const { store, journal, outbox, pipeline } = await open(dir.path, stage(false));
    await appendN(journal, 1, 120);
    while ((await pipeline.step()) > 0);
    await appendN(journal, 121, 5);
    await journal.stop(); // waits for the clear under way
    expect(await journalPositions(store)).toEqual([121, 122, 123, 124, 125]);
    expect(outbox.upcomingSeq - 1).toBe(120);
    await store.close();
  });

  it('a stateful stage keeps its tail since the checkpoint, and a 300,000-entry tail checkpoints in one go', async () => {
    const dir = tempDir('journal-release');
    dirs.push(dir);
    const st = stage(true);
    // Checkpoints only when the tail reaches 300,000 entries: the size a minute of 5,000 points/s leaves.
    const policy: CheckpointPolicy = { everyMs: 1e12, everyEvents: 300_000, maxSteps: 1e9 };
    const { store, journal, pipeline } = await open(dir.path, st, policy);
    await appendN(journal, 1, 299_990);
    while ((await pipeline.step()) > 0);
    expect(st.checkpoints).toBe(0);
    expect((await loadCommitted(store)).tail.from).toBe(0);
    await appendN(journal, 299_991, 20);
    while ((await pipeline.step()) > 0);
    // The checkpoint came at the step that took the tail past 300,000: its 300,000+ deletes
    // once rode in its batch as one op each (and overflowed a spread argument list).
    expect(st.checkpoints).toBe(1);
    await appendN(journal, 300_011, 7);
    while ((await pipeline.step()) > 0);
    const { tail, cursor } = await loadCommitted(store);
    expect([tail.from, cursor]).toEqual([300_010, 300_017]);
    await journal.stop();
    // What the checkpoint covers is gone; what a restart would replay is kept.
    expect(await journalPositions(store)).toEqual([300_011, 300_012, 300_013, 300_014, 300_015, 300_016, 300_017]);
    await store.close();
  }, 120_000);

  it('consumed entries are never read again, even while their delete has not landed', async () => {
    const dir = tempDir('journal-release');
    dirs.push(dir);
    const store = await AgentStore.open(dir.path);
    const journal = new Journal(store);
    await journal.init(0);
    await appendN(journal, 1, 10);
    // Stand-in for a fault (named as such): the store is told of a full disk, so it refuses the
    // range delete and the consumed entries stay on disk.
    store.notice(new Error('IO error: No space left on device'));
    journal.consumed(6);
    await journal.stop();
    expect(await journalPositions(store)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect((await journal.read(0, 100)).map((e) => e.position)).toEqual([7, 8, 9, 10]);
    expect((await journal.read(2, 100, 6)).map((e) => e.position)).toEqual([]);
    expect((await journal.read(0, 100, 8)).map((e) => e.position)).toEqual([7, 8]);
    await store.close();
  });

  it('entries an earlier run consumed but left (a crash before the delete) are swept at the next open', async () => {
    const dir = tempDir('journal-release');
    dirs.push(dir);
    const first = await open(dir.path, stage(false));
    await appendN(first.journal, 1, 50);
    while ((await first.pipeline.step()) > 0);
    await first.journal.stop();
    // As if the process died between the step's commit and its delete: the entries are back.
    await first.store.write(Array.from({ length: 50 }, (_, i) => ({ type: 'put' as const, sublevel: first.store.journal, key: positionKey(i + 1), value: Buffer.from('consumed') })));
    await appendN(first.journal, 51, 3);
    await first.store.close();

    const second = await open(dir.path, stage(false));
    await second.journal.stop();
    expect(await journalPositions(second.store)).toEqual([51, 52, 53]);
    while ((await second.pipeline.step()) > 0);
    expect(second.outbox.upcomingSeq - 1).toBe(53);
    await second.store.close();
  });
});
