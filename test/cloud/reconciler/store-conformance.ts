import { afterAll, describe, expect, it } from 'vitest';
import type { CommitBatch, DeviceState, ReadingRow, ResultRow } from '../../../cloud/reconciler/store.js';
import type { StoreFactory } from './support/stores.js';

/** The ReconcilerStore contract (cloud/reconciler/store.ts), run against every store. */
export function storeConformance(factory: StoreFactory): void {
  describe(`ReconcilerStore conformance: ${factory.name}`, () => {
    afterAll(() => factory.cleanup());

    const empty = (over: Partial<CommitBatch> = {}): CommitBatch => ({
      source: 'src',
      checkpoints: [],
      results: [],
      readings: [],
      events: [],
      devices: [],
      ...over,
    });
    const result = (over: Partial<ResultRow> = {}): ResultRow => ({
      device: 'd1',
      query: 'q',
      out: 'o',
      key: '{"s":"a"}',
      ws: 0,
      we: 60_000,
      rev: 0,
      seq: 1,
      row: { avg: 1.5, label: 'x', nested: { ok: true } },
      enqueuedTime: 100,
      ...over,
    });
    const reading = (seq: number, v: ReadingRow['v']): ReadingRow => ({
      device: 'd1',
      seq,
      src: 'modbus',
      pt: 'temp',
      t: 1000 + seq,
      at: 2000 + seq,
      v,
      q: v === null ? 'bad' : 'good',
      err: v === null ? 'timeout' : null,
      u: v === null ? null : 'degC',
    });
    const device = (over: Partial<DeviceState> = {}): DeviceState => ({
      device: 'd1',
      boot: 'b1',
      boots: 2,
      maxSeq: 20,
      records: 15,
      duplicates: 3,
      lostRecords: 2,
      firstEnqueued: 10,
      lastEnqueued: 20,
      clockAheadMs: 700_000,
      clockSkewed: true,
      gaps: [
        { from: 3, to: 4, state: 'lost', openedAt: 5, requestedAt: 6, attempts: 1, closedAt: 7 },
        { from: 10, to: 12, state: 'open', openedAt: 8, requestedAt: null, attempts: 0, closedAt: null },
      ],
      ...over,
    });

    it('migrate is safe to run twice and an empty store loads empty', async () => {
      const store = await factory.create();
      await store.migrate();
      await store.migrate();
      expect(await store.load('src')).toEqual({ checkpoints: new Map(), lastOffsets: new Map(), devices: [] });
      expect(await store.rowCounts()).toEqual({ results: 0, readings: 0, events: 0 });
      await store.close();
    });

    it('commits rows, device state and checkpoints, and loads them back per source', async () => {
      const store = await factory.create();
      await store.migrate();
      await store.commit(
        empty({
          checkpoints: [
            { partitionId: '0', next: 17, lastOffset: '4096' },
            { partitionId: '3', next: 2 },
          ],
          results: [result()],
          readings: [reading(5, 21.5), reading(6, true), reading(7, 'OPEN'), reading(8, null)],
          events: [{ device: 'd1', seq: 9, kind: 'health', t: 5, name: 'disk', data: { free: 12 } }],
          devices: [device()],
        }),
      );
      const state = await store.load('src');
      expect(state.checkpoints).toEqual(new Map([['0', 17], ['3', 2]]));
      expect(state.lastOffsets).toEqual(new Map([['0', '4096']]));
      expect(await store.loadCheckpoints('src')).toEqual({ checkpoints: state.checkpoints, lastOffsets: state.lastOffsets });
      // An empty batch moves `next` but keeps the offset of the last event actually read.
      await store.commit(empty({ checkpoints: [{ partitionId: '0', next: 18, lastOffset: null }] }));
      expect((await store.load('src')).lastOffsets.get('0')).toBe('4096');
      expect(state.devices).toEqual([device()]);
      expect((await store.load('other')).checkpoints).toEqual(new Map());
      expect(await store.results()).toEqual([result()]);
      expect(await store.readings()).toEqual([reading(5, 21.5), reading(6, true), reading(7, 'OPEN'), reading(8, null)]);
      expect(await store.events('d1')).toEqual([{ device: 'd1', seq: 9, kind: 'health', t: 5, name: 'disk', data: { free: 12 } }]);
      expect(await store.gaps()).toEqual([
        { device: 'd1', from: 3, to: 4, size: 2, state: 'lost', openedAt: 5, requestedAt: 6, attempts: 1, closedAt: 7 },
        { device: 'd1', from: 10, to: 12, size: 3, state: 'open', openedAt: 8, requestedAt: null, attempts: 0, closedAt: null },
      ]);
      expect(await store.rowCounts()).toEqual({ results: 1, readings: 4, events: 1 });
      await store.close();
    });

    it('keeps the highest (rev, seq) per result key, whatever the commit order; snapshot windows too', async () => {
      const store = await factory.create();
      await store.migrate();
      await store.commit(empty({ results: [result({ rev: 1, seq: 5, row: { v: 'r1' } }), result({ ws: null, rev: 0, seq: 6, row: { v: 's0' } })] }));
      await store.commit(empty({ results: [result({ rev: 0, seq: 9, row: { v: 'r0-late' } })] }));
      await store.commit(empty({ results: [result({ ws: null, rev: 2, seq: 3, row: { v: 's2' } })] }));
      await store.commit(empty({ results: [result({ rev: 1, seq: 4, row: { v: 'r1-older-seq' } })] }));
      const rows = await store.results();
      expect(rows.map((r) => [r.ws, r.rev, r.seq, r.row])).toEqual(
        expect.arrayContaining([
          [0, 1, 5, { v: 'r1' }],
          [null, 2, 3, { v: 's2' }],
        ]),
      );
      expect(rows).toHaveLength(2);
      // Same rev, higher seq wins (a re-emission after an agent restart).
      await store.commit(empty({ results: [result({ rev: 1, seq: 8, row: { v: 'r1-newer-seq' } })] }));
      expect((await store.results()).find((r) => r.ws === 0)?.row).toEqual({ v: 'r1-newer-seq' });
      await store.close();
    });

    it('filters results by device, query and window end range, sorted', async () => {
      const store = await factory.create();
      await store.migrate();
      await store.commit(
        empty({
          results: [
            result({ device: 'd2', we: 120_000, seq: 1 }),
            result({ device: 'd1', we: 180_000, seq: 2 }),
            result({ device: 'd1', query: 'other', we: 60_000, seq: 3 }),
            result({ device: 'd1', we: 60_000, seq: 4 }),
          ],
        }),
      );
      const pick = (rows: ResultRow[]) => rows.map((r) => `${r.device}/${r.query}/${r.we}`);
      expect(pick(await store.results({ device: 'd1' }))).toEqual(['d1/other/60000', 'd1/q/60000', 'd1/q/180000']);
      expect(pick(await store.results({ query: 'q', from: 100_000 }))).toEqual(['d1/q/180000', 'd2/q/120000']);
      expect(pick(await store.results({ to: 60_000 }))).toEqual(['d1/other/60000', 'd1/q/60000']);
      expect(await store.results({ limit: 1 })).toHaveLength(1);
      await store.close();
    });

    it('a failing commit leaves nothing behind: no rows, no device change, no checkpoint move', async () => {
      const store = await factory.create();
      await store.migrate();
      await store.commit(empty({ checkpoints: [{ partitionId: '0', next: 5 }], devices: [device({ records: 1 })] }));
      const bad = reading(30, 1);
      // JSON.stringify throws on BigInt: the store fails after the results statement has run.
      (bad as unknown as { v: unknown }).v = 10n;
      await expect(
        store.commit(empty({ checkpoints: [{ partitionId: '0', next: 9 }], results: [result()], readings: [bad], devices: [device({ records: 99 })] })),
      ).rejects.toThrow();
      expect(await store.rowCounts()).toEqual({ results: 0, readings: 0, events: 0 });
      const state = await store.load('src');
      expect(state.checkpoints.get('0')).toBe(5);
      expect(state.devices[0]!.records).toBe(1);
      await store.close();
    });

    it('refuses a batch whose starting checkpoint moved (another instance), and writes nothing', async () => {
      const store = await factory.create();
      await store.migrate();
      await store.commit(empty({ checkpoints: [{ partitionId: '0', next: 10, expectedNext: null }], readings: [reading(1, 1)] }));
      for (const expectedNext of [null, 5]) {
        const err = await store
          .commit(empty({ checkpoints: [{ partitionId: '0', next: 20, expectedNext }], readings: [reading(2, 2)] }))
          .then(() => undefined, (e: unknown) => e);
        expect(err).toMatchObject({ code: 'EDGE_STORE_LOCKED' });
      }
      await store.commit(empty({ checkpoints: [{ partitionId: '0', next: 20, expectedNext: 10 }], readings: [reading(3, 3)] }));
      expect((await store.load('src')).checkpoints.get('0')).toBe(20);
      expect((await store.readings()).map((r) => r.seq)).toEqual([1, 3]);
      await store.close();
    });

    it('replaying a committed batch changes nothing', async () => {
      const store = await factory.create();
      await store.migrate();
      const batch = empty({ checkpoints: [{ partitionId: '1', next: 3 }], results: [result()], readings: [reading(5, 2)], devices: [device()] });
      await store.commit(batch);
      await store.commit(batch);
      expect(await store.rowCounts()).toEqual({ results: 1, readings: 1, events: 0 });
      expect(await store.devices()).toEqual([device()]);
      await store.close();
    });

    it('what is committed survives closing and reopening', async () => {
      const store = await factory.create();
      await store.migrate();
      await store.commit(empty({ checkpoints: [{ partitionId: '2', next: 40 }], results: [result()], devices: [device({ gaps: [] })] }));
      await store.close();
      const again = await factory.reopen(store);
      await again.migrate();
      const state = await again.load('src');
      expect(state.checkpoints.get('2')).toBe(40);
      expect(state.devices).toEqual([device({ gaps: [] })]);
      expect(await again.results()).toEqual([result()]);
      await again.close();
    });
  });
}
