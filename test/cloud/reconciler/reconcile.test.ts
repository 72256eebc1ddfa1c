import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { WireRecord } from '../../../agent/core/wire.js';
import { BatchOutput, reconcileEvents, type ReconcileOptions } from '../../../cloud/reconciler/reconcile.js';
import { contiguousSeq, fillSeq, findGap, markLost, rejectedCount, rejectSeq, type Gap } from '../../../cloud/reconciler/gaps.js';
import type { SourceEvent } from '../../../cloud/reconciler/source.js';
import type { DeviceState } from '../../../cloud/reconciler/store.js';
import { mergeRanges } from './support/scenario.js';
import { packMessage, toTelemetry } from './support/wire-builder.js';

const options: ReconcileOptions = { firstSeq: 1, skewThresholdMs: 60_000 };
let position = 0;

function event(device: string, records: WireRecord[], enqueuedTime = 1_000_000, boot = 'b1', body?: Buffer): SourceEvent {
  const t = toTelemetry(packMessage(device, boot, records));
  return {
    partitionId: '0',
    sequenceNumber: position++,
    offset: String(position),
    enqueuedTime,
    deviceId: device,
    systemProperties: t.systemProperties,
    properties: t.properties,
    body: body ?? t.body,
  };
}

const reading = (seq: number, t = 1_000_000): WireRecord => ({ seq, kind: 'reading', t, at: t, src: 's', pt: 'p', v: seq, q: 'good' });
const result = (seq: number, rev: number, we = 60_000): WireRecord => ({ seq, kind: 'result', t: we, query: 'q', out: 'o', ws: we - 60_000, we, key: '{}', rev, row: { rev } });

function run(events: SourceEvent[], devices = new Map<string, DeviceState>(), now = 0): { devices: Map<string, DeviceState>; out: BatchOutput } {
  const out = new BatchOutput();
  reconcileEvents(devices, events, now, options, out);
  return { devices, out };
}

const ranges = (gaps: Gap[], state: 'open' | 'lost') => gaps.filter((g) => g.state === state).map((g) => [g.from, g.to]);

describe('gap bookkeeping', () => {
  const gap = (from: number, to: number): Gap => ({ from, to, state: 'open', openedAt: 0, requestedAt: null, attempts: 0, closedAt: null });

  it('finds, shrinks, splits and removes', () => {
    const gaps = [gap(3, 3), gap(5, 9), gap(20, 22)];
    expect([2, 3, 5, 9, 10, 21, 23].map((s) => findGap(gaps, s))).toEqual([-1, 0, 1, 1, -1, 2, -1]);
    fillSeq(gaps, 1, 7);
    fillSeq(gaps, 0, 3);
    fillSeq(gaps, 2, 22);
    expect(gaps.map((g) => [g.from, g.to])).toEqual([
      [5, 6],
      [8, 9],
      [20, 21],
    ]);
    expect(contiguousSeq(gaps, 30)).toBe(4);
  });

  it('a rejected seq joins its rejected neighbours, on either side or both', () => {
    const gaps: Gap[] = [gap(2, 3)];
    for (const seq of [5, 7, 1, 6, 9]) rejectSeq(gaps, seq, 0);
    expect(gaps.map((g) => [g.from, g.to, g.state])).toEqual([
      [1, 1, 'rejected'],
      [2, 3, 'open'],
      [5, 7, 'rejected'],
      [9, 9, 'rejected'],
    ]);
    expect(rejectedCount(gaps)).toBe(5);
    expect(contiguousSeq(gaps, 9)).toBe(1);
  });

  it('marks only the asked part of open gaps lost, and lost gaps count as explained', () => {
    const gaps = [gap(5, 9), gap(12, 14)];
    expect(markLost(gaps, 7, 13, 99)).toBe(5);
    expect(gaps.map((g) => [g.from, g.to, g.state])).toEqual([
      [5, 6, 'open'],
      [7, 9, 'lost'],
      [12, 13, 'lost'],
      [14, 14, 'open'],
    ]);
    expect(markLost(gaps, 5, 6, 100)).toBe(2);
    expect(contiguousSeq(gaps, 20)).toBe(13);
  });
});

describe('reconcile rules', () => {
  it('drops duplicates by (device, seq), opens gaps and fills them', () => {
    const { devices, out } = run([event('d', [reading(1), reading(2)]), event('d', [reading(5)]), event('d', [reading(2), reading(3)]), event('e', [reading(2)])]);
    const d = devices.get('d')!;
    expect(out.accepted).toBe(5);
    expect(out.duplicates).toBe(1);
    expect(ranges(d.gaps, 'open')).toEqual([[4, 4]]);
    expect(contiguousSeq(d.gaps, d.maxSeq)).toBe(3);
    // A device first seen above firstSeq has a gap from firstSeq.
    expect(ranges(devices.get('e')!.gaps, 'open')).toEqual([[1, 1]]);
  });

  it('keeps the highest (rev, seq) per result key inside a batch, in any order', () => {
    const { out } = run([event('d', [result(3, 1), result(1, 0), result(4, 2), result(2, 2)])]);
    expect([...out.results.values()].map((r) => [r.rev, r.seq])).toEqual([[2, 4]]);
  });

  it('follows the boot of the highest seq: a reboot is counted, never a gap; an old boot arriving late changes nothing', () => {
    const { devices } = run([event('d', [reading(1), reading(2)], 1, 'b1'), event('d', [reading(3)], 2, 'b2'), event('d', [reading(4)], 3, 'b2')]);
    run([event('d', [reading(2)], 4, 'b1')], devices);
    expect(devices.get('d')).toMatchObject({ boot: 'b2', boots: 2, gaps: [], maxSeq: 4 });
  });

  it('flags clock skew when application time runs ahead of the hub by more than the threshold, and clears it', () => {
    const enq = 10_000_000;
    const { devices } = run([event('d', [reading(1, enq + 61_000)], enq)]);
    expect(devices.get('d')).toMatchObject({ clockSkewed: true, clockAheadMs: 61_000 });
    run([event('d', [reading(2, enq + 59_000)], enq + 1)], devices);
    expect(devices.get('d')).toMatchObject({ clockSkewed: false, clockAheadMs: 58_999 });
    // A message older than the latest (by enqueued time) does not move the flag.
    run([event('d', [reading(3, enq + 600_000)], enq - 5)], devices);
    expect(devices.get('d')!.clockSkewed).toBe(false);
  });

  it('rejects damaged or lying messages whole, before touching state', () => {
    const good = event('d', [reading(1)]);
    const { devices, out } = run([good, event('d', [reading(2)], 1, 'b1', Buffer.from('{not json')), { ...event('x', [reading(3)]), deviceId: 'd' }, event('d', [reading(4)])]);
    expect(out.rejected.map((r) => r.reason)).toEqual([expect.stringMatching(/not JSON/), expect.stringMatching(/body names device x, hub says d/)]);
    expect(ranges(devices.get('d')!.gaps, 'open')).toEqual([[2, 3]]);
    expect(out.readings.map((r) => r.seq)).toEqual([1, 4]);
  });

  it('a malformed record is rejected alone: the good records of its message are kept, its seq closes as rejected', () => {
    const { devices, out } = run([
      event('d', [reading(1), { ...reading(2), t: 1.5 } as WireRecord, reading(3)]),
      event('d', [{ ...result(4, 0), row: 'nope' } as unknown as WireRecord, { ...reading(5), v: { raw: 1 } } as unknown as WireRecord, reading(6)]),
    ]);
    expect(out.rejected).toEqual([]);
    expect(out.rejectedRecords).toEqual([
      { deviceId: 'd', seq: 2, kind: 'reading', reason: expect.stringMatching(/seq 2 .*t is not an integer/) },
      { deviceId: 'd', seq: 4, kind: 'result', reason: expect.stringMatching(/seq 4 .*row is not an object/) },
      { deviceId: 'd', seq: 5, kind: 'reading', reason: expect.stringMatching(/seq 5 .*v has an unsupported type/) },
    ]);
    expect(out.readings.map((r) => r.seq)).toEqual([1, 3, 6]);
    const d = devices.get('d')!;
    // Neighbouring rejected seqs make one range; nothing is open, so nothing will be asked for.
    expect(d.gaps.map((g) => [g.from, g.to, g.state])).toEqual([
      [2, 2, 'rejected'],
      [4, 5, 'rejected'],
    ]);
    expect(contiguousSeq(d.gaps, d.maxSeq)).toBe(6);
    expect(d).toMatchObject({ records: 3, maxSeq: 6, duplicates: 0 });
  });

  it('the same malformed record again is a duplicate; a corrected one fills its seq; a late malformed one splits an open gap', () => {
    const devices = new Map<string, DeviceState>();
    const bad = (seq: number) => ({ ...reading(seq), t: seq + 0.5 }) as WireRecord;
    run([event('d', [reading(1), bad(2), reading(3), reading(9)])], devices);
    const again = run([event('d', [reading(1), bad(2), reading(3)])], devices).out;
    expect([again.duplicates, again.rejectedRecords.length, again.accepted]).toEqual([3, 0, 0]);
    const late = run([event('d', [bad(6), reading(2)])], devices).out;
    expect(late.rejectedRecords.map((r) => r.seq)).toEqual([6]);
    expect(late.readings.map((r) => r.seq)).toEqual([2]);
    expect(devices.get('d')!.gaps.map((g) => [g.from, g.to, g.state])).toEqual([
      [4, 5, 'open'],
      [6, 6, 'rejected'],
      [7, 8, 'open'],
    ]);
    expect(devices.get('d')!.records).toBe(4);
  });

  it('property: any delivery order with duplicates ends with every missing seq in a gap and every other seq once', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 60 }),
        fc.array(fc.integer({ min: 1, max: 60 }), { maxLength: 150 }),
        fc.integer({ min: 1, max: 8 }),
        (top, deliveries, chunk) => {
          const seqs = [...deliveries.filter((s) => s <= top), top];
          const events: SourceEvent[] = [];
          for (let i = 0; i < seqs.length; i += chunk) events.push(event('p', seqs.slice(i, i + chunk).map((s) => reading(s))));
          const { devices, out } = run(events);
          const distinct = new Set(seqs);
          const d = devices.get('p')!;
          expect(out.accepted).toBe(distinct.size);
          expect(out.duplicates).toBe(seqs.length - distinct.size);
          const missing = Array.from({ length: top }, (_, i) => i + 1).filter((s) => !distinct.has(s));
          expect(ranges(d.gaps, 'open')).toEqual(mergeRanges(missing));
          expect(d.maxSeq).toBe(top);
        },
      ),
      { numRuns: 300 },
    );
  });
});
