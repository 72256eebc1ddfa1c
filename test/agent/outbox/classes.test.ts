import { afterEach, describe, expect, it } from 'vitest';
import type { RecordDraft } from '../../../agent/outbox/outbox.js';
import { outboxKey } from '../../../agent/outbox/class-keys.js';
import { EvictedRanges, mergeRanges } from '../../../agent/outbox/evicted-ranges.js';
import { AgentStore } from '../../../agent/store/store.js';
import { encodeChecked, positionKey } from '../../../agent/store/checksum.js';
import { stagingOutbox } from '../../support/staging-outbox.js';
import { tempDir } from '../../support/tmp.js';

const reading = (i: number): RecordDraft => ({ kind: 'reading', t: i, at: i, src: 's', pt: 'p', v: i, q: 'good' });
const result = (i: number, cls?: 'alarm' | 'reading'): RecordDraft => ({ kind: 'result', t: i, query: 'q', out: 'o', ws: null, we: i, key: '[]', rev: 1, row: {}, ...(cls ? { cls } : {}) });
const event = (i: number): RecordDraft => ({ kind: 'event', t: i, name: 'trip', data: {} });

describe('Outbox classes: one key range per class, the public API unchanged', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  const open = stagingOutbox;

  it('keys each record by its class, reads per class or all in seq order, and keeps the figures across a reopen', async () => {
    const dir = tempDir('outbox-classes');
    cleanups.push(dir.cleanup);
    let { store, outbox, stage } = await open(dir.path);
    await stage([reading(1), result(2), event(3), result(4, 'alarm'), result(5, 'reading'), reading(6)]);
    const keys: string[] = [];
    for await (const k of store.outbox.keys()) keys.push(k);
    expect(keys).toEqual([positionKey(1), positionKey(5), positionKey(6), outboxKey('alarm', 3), outboxKey('alarm', 4), outboxKey('result', 2)]);
    expect((await outbox.readClass('alarm', 0, 10)).map((r) => [r.seq, r.kind])).toEqual([[3, 'event'], [4, 'result']]);
    expect((await outbox.readClass('reading', 1, 10, 6)).map((r) => r.seq)).toEqual([5]);
    expect((await outbox.read(0, 4)).map((r) => [r.seq, r.cls])).toEqual([[1, 'reading'], [2, 'result'], [3, 'alarm'], [4, 'alarm']]);
    await store.close();
    ({ store, outbox, stage } = await open(dir.path));
    cleanups.push(() => store.close());
    expect([outbox.unsentIn('alarm'), outbox.unsentIn('result'), outbox.unsentIn('reading'), outbox.depth]).toEqual([2, 1, 3, 6]);
    expect(outbox.newestIn('alarm')).toBe(4);
  });

  it('markSent without a class finds the record in its range; a resend puts a retained record back in its class', async () => {
    const dir = tempDir('outbox-classes-ack');
    cleanups.push(dir.cleanup);
    const { store, outbox, stage } = await open(dir.path);
    cleanups.push(() => store.close());
    await stage([reading(1), result(2, 'alarm'), event(3)]);
    await outbox.markSent([{ seq: 2, kind: 'result' }, { seq: 3, kind: 'event', cls: 'alarm' }], 1000, true);
    expect((await outbox.read(0, 10)).map((r) => r.seq)).toEqual([1]);
    expect(outbox.unsentIn('alarm')).toBe(0);
    expect(await outbox.resend(2, 3)).toEqual({ resent: 2, pending: 0, evicted: [] });
    expect((await outbox.readClass('alarm', 0, 10)).map((r) => r.seq)).toEqual([2, 3]);
    expect(outbox.unsentIn('alarm')).toBe(2);
    expect((await outbox.resend(1, 3)).pending).toBe(3);
  });

  it('a store written before classes (bare seq keys for every kind) reads as is: all of it in the reading class', async () => {
    const dir = tempDir('outbox-classes-legacy');
    cleanups.push(dir.cleanup);
    {
      const store = await AgentStore.open(dir.path);
      await store.outbox.put(positionKey(1), encodeChecked({ seq: 1, kind: 'event', t: 1, name: 'old', data: {} }));
      await store.outbox.put(positionKey(2), encodeChecked({ seq: 2, kind: 'reading', t: 2, at: 2, src: 's', pt: 'p', v: 1, q: 'good' }));
      await store.close();
    }
    const { store, outbox } = await open(dir.path);
    cleanups.push(() => store.close());
    expect(outbox.upcomingSeq).toBe(3);
    const got = await outbox.readClass('reading', 0, 10);
    expect(got.map((r) => [r.seq, r.kind])).toEqual([[1, 'event'], [2, 'reading']]);
    await outbox.markSent(got.map(({ seq, kind, cls }) => ({ seq, kind, cls })), 1000, false);
    expect(outbox.depth).toBe(0);
  });
});

describe('EvictedRanges out of seq order (classes deliver results before the readings between them)', () => {
  it('merges seqs that come below the newest range into the same ranges a sorted merge gives', async () => {
    const dir = tempDir('ranges-order');
    const store = await AgentStore.open(dir.path);
    try {
      const ranges = new EvictedRanges(store, 'testRanges');
      await ranges.init();
      // Results (every fifth seq) first, then the readings in between in shuffled batches.
      const results = Array.from({ length: 200 }, (_, i) => i * 5 + 5);
      ranges.stage(results);
      expect(ranges.list()).toHaveLength(200);
      const rest = Array.from({ length: 1000 }, (_, i) => i + 1).filter((s) => s % 5 !== 0);
      let x = 7;
      const shuffled = rest.map((s) => ({ s, k: (x = (x * 1103515245 + 12345) % 2 ** 31) })).sort((a, b) => a.k - b.k).map((e) => e.s);
      const seen = new Set(results);
      for (let i = 0; i < shuffled.length; i += 37) {
        const batch = shuffled.slice(i, i + 37);
        ranges.stage(batch);
        for (const s of batch) seen.add(s);
        expect(ranges.list()).toEqual(mergeRanges([...seen].map((s) => ({ fromSeq: s, toSeq: s }))));
      }
      expect(ranges.list()).toEqual([{ fromSeq: 1, toSeq: 1000 }]);
    } finally {
      await store.close();
      dir.cleanup();
    }
  });
});
