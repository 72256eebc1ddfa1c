import { afterEach, describe, expect, it } from 'vitest';
import { Outbox, type RecordDraft } from '../../../agent/outbox/outbox.js';
import { AgentStore } from '../../../agent/store/store.js';
import { tempDir } from '../../support/tmp.js';

function draft(i: number): RecordDraft {
  return { kind: 'reading', t: 1000 + i, at: 2000 + i, src: 'dev-1', pt: 'temp', v: i, q: 'good' };
}

async function stageAndCommit(store: AgentStore, outbox: Outbox, n: number): Promise<void> {
  const staged = outbox.stage(Array.from({ length: n }, (_, i) => draft(i)));
  await store.db.batch(staged.ops, { sync: true });
  staged.commit();
}

describe('Outbox (real LevelDB)', () => {
  const dirs: Array<{ cleanup: () => void }> = [];
  afterEach(() => dirs.splice(0).forEach((d) => d.cleanup()));

  it('assigns dense seqs and reads records back with their kind and JSON text', async () => {
    const dir = tempDir('outbox');
    dirs.push(dir);
    const store = await AgentStore.open(dir.path);
    const outbox = new Outbox(store);
    await outbox.init();
    await stageAndCommit(store, outbox, 5);
    const records = await outbox.read(0, 100);
    expect(records.map((r) => r.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(records.every((r) => r.kind === 'reading')).toBe(true);
    expect(JSON.parse(records[2]!.json)).toEqual({ seq: 3, ...draft(2) });
    expect((await outbox.read(3, 100)).map((r) => r.seq)).toEqual([4, 5]);
    await store.close();
  });

  it('never reuses a seq after records were acknowledged and the store reopened', async () => {
    const dir = tempDir('outbox-seq');
    dirs.push(dir);
    let store = await AgentStore.open(dir.path);
    let outbox = new Outbox(store);
    await outbox.init();
    await stageAndCommit(store, outbox, 3);
    await outbox.markSent(await outbox.read(0, 10), 5000, false);
    expect(outbox.depth).toBe(0);
    await store.close();

    store = await AgentStore.open(dir.path);
    outbox = new Outbox(store);
    await outbox.init();
    expect(outbox.upcomingSeq).toBe(4);
    await stageAndCommit(store, outbox, 2);
    expect((await outbox.read(0, 10)).map((r) => r.seq)).toEqual([4, 5]);
    expect(outbox.depth).toBe(2);
    await store.close();
  });

  it('keeps acknowledged records for resend and names what it no longer has', async () => {
    const dir = tempDir('outbox-resend');
    dirs.push(dir);
    const store = await AgentStore.open(dir.path);
    const outbox = new Outbox(store);
    await outbox.init();
    await stageAndCommit(store, outbox, 10);
    await outbox.markSent(await outbox.read(0, 6), 1000, true); // seqs 1-6 retained
    expect(outbox.depth).toBe(4);
    expect((await outbox.figures()).sent.records).toBe(6);
    await outbox.evictOldest('reading', 2); // unsent 7, 8 evicted
    expect(outbox.evictedRanges.list()).toEqual([{ fromSeq: 7, toSeq: 8 }]);

    const result = await outbox.resend(2, 12);
    expect(result).toEqual({ resent: 5, pending: 2, evicted: [{ fromSeq: 7, toSeq: 8 }] });
    expect((await outbox.read(0, 20)).map((r) => r.seq)).toEqual([2, 3, 4, 5, 6, 9, 10]);
    expect(outbox.rewound.take()).toBe(true);
    expect((await outbox.figures()).sent.records).toBe(1);

    // Retention: records acknowledged before the cutoff go, younger ones stay.
    await outbox.markSent(await outbox.read(0, 3), 5000, true); // 2, 3, 4 at t=5000
    expect(await outbox.pruneSent(2000)).toBe(1); // seq 1 (t=1000)
    expect((await outbox.figures()).sent.records).toBe(3);
    await store.close();
  });

  it('does not advance the counter when the batch was never committed', async () => {
    const dir = tempDir('outbox-uncommitted');
    dirs.push(dir);
    const store = await AgentStore.open(dir.path);
    const outbox = new Outbox(store);
    await outbox.init();
    outbox.stage([draft(0), draft(1)]);
    expect(outbox.upcomingSeq).toBe(1);
    await stageAndCommit(store, outbox, 1);
    expect((await outbox.read(0, 10)).map((r) => r.seq)).toEqual([1]);
    await store.close();
  });
});

describe('Outbox eviction and messages in flight', () => {
  it('never evicts a record pinned by a message in flight', async () => {
    const dir = tempDir('outbox-pin');
    try {
      const store = await AgentStore.open(dir.path);
      const outbox = new Outbox(store);
      await outbox.init();
      await stageAndCommit(store, outbox, 6);
      outbox.pin([1, 2, 3]);
      expect(await outbox.evictOldest('reading', 2)).toMatchObject({ records: 2 });
      expect((await outbox.read(0, 10)).map((r) => r.seq)).toEqual([1, 2, 3, 6]);
      // Acknowledged after all: moved once, counted once.
      await outbox.markSent((await outbox.read(0, 3)), 1, false);
      outbox.unpin([1, 2, 3]);
      expect(outbox.depth).toBe(1);
      expect(outbox.evictedRanges.list()).toEqual([{ fromSeq: 4, toSeq: 5 }]);
      await store.close();
    } finally {
      dir.cleanup();
    }
  });
});
