import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../agent/core/clock.js';
import { silentLogger } from '../../../agent/core/logger.js';
import { Housekeeper } from '../../../agent/outbox/housekeeper.js';
import { Outbox, type RecordDraft } from '../../../agent/outbox/outbox.js';
import { AgentStore } from '../../../agent/store/store.js';
import { tempDir } from '../../support/tmp.js';

const reading = (t: number): RecordDraft => ({ kind: 'reading', t, at: t, src: 'dev', pt: 'temp', v: 21.5, q: 'good' });
const result = (t: number): RecordDraft => ({ kind: 'result', t, query: 'avg', out: 'out', ws: t - 60_000, we: t, key: '["temp"]', rev: 0, row: { avg: 21.5 } });

async function setup(drafts: RecordDraft[]) {
  const dir = tempDir('housekeeper');
  const store = await AgentStore.open(dir.path);
  const outbox = new Outbox(store);
  await outbox.init();
  const staged = outbox.stage(drafts);
  await store.db.batch(staged.ops);
  staged.commit();
  return { dir, store, outbox };
}

describe('Housekeeper: quota, TTL and retention', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it('evicts retained records first, then raw readings oldest first, and keeps results', async () => {
    // seqs 1-100 readings, 101-110 results, 111-200 readings
    const drafts = [...Array.from({ length: 100 }, (_, i) => reading(i)), ...Array.from({ length: 10 }, (_, i) => result(1000 + i)), ...Array.from({ length: 90 }, (_, i) => reading(2000 + i))];
    const { dir, store, outbox } = await setup(drafts);
    cleanups.push(dir.cleanup, () => store.close());
    await outbox.markSent(await outbox.read(0, 20), 0, true); // 1-20 retained
    const clock = new ManualClock(10);
    const total = outbox.bytes;
    const quota = Math.floor(total * 0.4);
    const hk = new Housekeeper(outbox, { quotaBytes: quota, ttlMs: 0, retentionMs: 1e9 }, clock, silentLogger);
    await hk.tick();

    expect(outbox.bytes).toBeLessThanOrEqual(quota);
    expect(hk.evicted.sent).toBe(20);
    expect(hk.evicted.reading).toBeGreaterThan(0);
    expect(hk.evicted.result).toBe(0);
    const left = await outbox.read(0, 1000);
    // The oldest readings went; every result stayed; the newest readings stayed.
    expect(left.filter((r) => r.kind === 'result')).toHaveLength(10);
    expect(left.at(-1)!.seq).toBe(200);
    // Oldest readings first: all of 21-100 before any of 111-200 (results 101-110 skipped).
    const n = hk.evicted.reading;
    expect(n).toBeGreaterThan(80);
    expect(outbox.evictedRanges.list()).toEqual([
      { fromSeq: 21, toSeq: 100 },
      { fromSeq: 111, toSeq: 110 + n - 80 },
    ]);
    expect(left.map((r) => r.seq)).toEqual([...Array.from({ length: 10 }, (_, i) => 101 + i), ...Array.from({ length: 200 - (110 + n - 80) }, (_, i) => 111 + n - 80 + i)]);
    expect((await outbox.resend(1, 25)).evicted).toEqual([{ fromSeq: 1, toSeq: 25 }]);
  });

  it('expires unsent records older than the TTL and prunes retention, counting both', async () => {
    const { dir, store, outbox } = await setup([...Array.from({ length: 10 }, (_, i) => reading(i * 1000)), result(5000)]);
    cleanups.push(dir.cleanup, () => store.close());
    await outbox.markSent(await outbox.read(0, 2), 0, true); // seqs 1-2 acknowledged at t=0
    const clock = new ManualClock(12_000);
    const hk = new Housekeeper(outbox, { quotaBytes: 1e9, ttlMs: 6_500, retentionMs: 10_000 }, clock, silentLogger);
    await hk.tick();
    // Cutoff 5,500: readings at 2,000..5,000 (seqs 3-6) expire; the result at 5,000 comes after
    // a young reading in seq order, so it stays (the search stops at the first young record).
    expect(hk.expired.reading).toBe(4);
    expect((await outbox.read(0, 100)).map((r) => r.seq)).toEqual([7, 8, 9, 10, 11]);
    expect(hk.figures.sent.records).toBe(0); // acknowledged at 0 < 12,000 − 10,000
    expect(hk.figures.oldestUnsentTime).toBe(6000);
  });
});
