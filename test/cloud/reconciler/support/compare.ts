import { expect } from 'vitest';
import type { ReconcilerStore, ResultRow } from '../../../../cloud/reconciler/store.js';
import { mergeRanges, type GroundTruth } from './scenario.js';

/** Sorts in JS so the comparison never depends on a database's collation. */
function byKey<T>(rows: T[], key: (r: T) => string): T[] {
  return [...rows].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}

const resultKey = (r: ResultRow) => JSON.stringify([r.device, r.query, r.out, r.key, r.ws, r.we]);

/**
 * The reconciled tables equal the ground truth: each result once at its highest revision, every
 * reading and event once, and every missing seq explained as lost (no open gap left).
 */
export async function expectStoreMatchesTruth(store: ReconcilerStore, truth: GroundTruth, options: { exactBoots?: boolean } = {}): Promise<void> {
  const results = await store.results();
  const keys = results.map(resultKey);
  expect(new Set(keys).size, 'no result row twice').toBe(keys.length);
  const strip = (r: ResultRow) => ({ ...r, enqueuedTime: 0 });
  expect(byKey(results.map(strip), resultKey)).toEqual(byKey(truth.results, resultKey));

  const seqKey = (r: { device: string; seq: number }) => `${r.device}\u0000${String(r.seq).padStart(12, '0')}`;
  expect(byKey(await store.readings(), seqKey)).toEqual(byKey(truth.readings, seqKey));
  expect(byKey(await store.events(), seqKey)).toEqual(byKey(truth.events, seqKey));

  const gaps = await store.gaps();
  expect(gaps.filter((g) => g.state === 'open'), 'no gap left unexplained').toEqual([]);
  const devices = await store.devices();
  expect(devices.map((d) => d.device).sort()).toEqual(truth.devices.map((d) => d.device));
  for (const t of truth.devices) {
    const d = devices.find((x) => x.device === t.device)!;
    const lostSeqs = gaps.filter((g) => g.device === t.device).flatMap((g) => Array.from({ length: g.size }, (_, i) => g.from + i));
    expect({
      device: d.device,
      boot: d.boot,
      // Boots are counted as they show up at the highest seq; a boot whose messages all arrive late
      // (or only through resends) is never seen there, so exact counts hold only without drops.
      boots: options.exactBoots === false && d.boots >= 1 && d.boots <= t.boots ? t.boots : d.boots,
      maxSeq: d.maxSeq,
      records: d.records,
      lostRecords: d.lostRecords,
      lost: mergeRanges(lostSeqs.sort((a, b) => a - b)),
    }).toEqual({
      device: t.device,
      boot: t.boot,
      boots: t.boots,
      maxSeq: t.maxSeq,
      records: t.records,
      lostRecords: t.lostRecords,
      lost: t.lost,
    });
  }
}
