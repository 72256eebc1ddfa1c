import { afterEach, describe, expect, it } from 'vitest';
import { Outbox, type RecordDraft } from '../../../agent/outbox/outbox.js';
import { positionKey } from '../../../agent/store/checksum.js';
import { AgentStore } from '../../../agent/store/store.js';
import { tempDir } from '../../support/tmp.js';

const draft = (i: number): RecordDraft => ({ kind: 'reading', t: 1000 + i, at: 2000 + i, src: 'dev', pt: 'p', v: i, q: 'good' });

async function stage(store: AgentStore, outbox: Outbox, n: number): Promise<void> {
  const staged = outbox.stage(Array.from({ length: n }, (_, i) => draft(i)));
  await store.write(staged.ops, { sync: true });
  staged.commit();
}

/** The check at every open: each seq below the next one is unsent, retained, delivered or evicted. */
describe('Outbox continuity at open (real LevelDB)', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function open(dir: string) {
    const store = await AgentStore.open(dir);
    cleanups.push(async () => {
      if (store.db.status === 'open') await store.close();
    });
    return { store, outbox: new Outbox(store) };
  }

  it('finds nothing lost in a store that lost nothing, with retention on or off', async () => {
    const dir = tempDir('continuity-ok');
    cleanups.push(dir.cleanup);
    let { store, outbox } = await open(dir.path);
    expect((await outbox.init()).lost).toEqual([]);
    await stage(store, outbox, 30);
    await outbox.markSent((await outbox.read(0, 10)).map(({ seq, kind }) => ({ seq, kind })), 5000, true); // 1–10 retained
    await outbox.markSent((await outbox.read(10, 10)).map(({ seq, kind }) => ({ seq, kind })), 5000, false); // 11–20 deleted at once
    expect(await outbox.pruneSent(6000)).toBe(10); // 1–10 pruned
    await store.close();
    ({ store, outbox } = await open(dir.path));
    const check = await outbox.init();
    expect(check.lost).toEqual([]);
    expect(outbox.upcomingSeq).toBe(31);
    expect(outbox.evictedRanges.list()).toEqual([]);
  });

  it('reports records that vanished from the middle and the top as lost, and answers them evicted', async () => {
    const dir = tempDir('continuity-hole');
    cleanups.push(dir.cleanup);
    let { store, outbox } = await open(dir.path);
    await outbox.init();
    await stage(store, outbox, 50);
    // What a garbled log does: records gone without any of the agent's own deletes.
    await store.db.batch([5, 6, 7, 49, 50].map((seq) => ({ type: 'del' as const, sublevel: store.outbox, key: positionKey(seq) })));
    await store.close();
    ({ store, outbox } = await open(dir.path));
    const check = await outbox.init();
    expect(check.lost).toEqual([
      { fromSeq: 5, toSeq: 7 },
      { fromSeq: 49, toSeq: 50 },
    ]);
    expect(outbox.upcomingSeq).toBe(51); // the counter survived: the top is known
    expect((await outbox.resend(1, 50)).evicted).toEqual(check.lost);
    // Reported once: the next open finds them accounted for.
    await store.close();
    ({ store, outbox } = await open(dir.path));
    expect((await outbox.init()).lost).toEqual([]);
  });

  it('a binding floor above the store counter: the seqs between were issued and are gone', async () => {
    const dir = tempDir('continuity-floor');
    cleanups.push(dir.cleanup);
    const { store, outbox } = await open(dir.path);
    await outbox.init();
    await stage(store, outbox, 20);
    await store.close();
    const again = await open(dir.path);
    // A clean stop had said 26 was next: the newest five were torn off with the log's tail.
    const check = await again.outbox.init({ floor: 26, binding: true });
    expect(check).toMatchObject({ lost: [{ fromSeq: 21, toSeq: 25 }], storedNextSeq: 21 });
    expect(again.outbox.upcomingSeq).toBe(26);
    // Not binding (a crash with per-commit fsync): the store's own counter is trusted.
    await again.store.close();
    const third = await open(dir.path);
    expect((await third.outbox.init({ floor: 10_021, binding: false })).lost).toEqual([]);
    expect(third.outbox.upcomingSeq).toBe(26);
  });
});
