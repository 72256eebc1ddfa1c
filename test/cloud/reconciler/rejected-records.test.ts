import { afterAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../agent/core/clock.js';
import type { WireRecord } from '../../../agent/core/wire.js';
import { MessageLogSource, Reconciler, type MethodInvoker, type MethodResponse } from '../../../cloud/reconciler/index.js';
import { openTestLog } from './support/real-log.js';
import { allStores, type StoreFactory } from './support/stores.js';
import { packMessage, toTelemetry } from './support/wire-builder.js';

const GRACE = 10_000;
const reading = (seq: number): WireRecord => ({ seq, kind: 'reading', t: 1_000 + seq, at: 1_000 + seq, src: 's', pt: 'p', v: seq, q: 'good' });
/** What a buggy driver's reading becomes on the wire: a fractional time the tables cannot hold. */
const malformed = (seq: number): WireRecord => ({ ...reading(seq), t: 1_000.5 + seq });

/** Answers every resend with "resent, nothing evicted" and remembers what was asked. */
class CountingInvoker implements MethodInvoker {
  readonly asked: unknown[] = [];
  async invoke(_device: string, _method: string, payload: unknown): Promise<MethodResponse> {
    this.asked.push(payload);
    return { status: 200, payload: { resent: 0, evicted: [] } };
  }
}

function rejectedRecordSuite(stores: StoreFactory): void {
  describe(`a malformed record inside a good message, on ${stores.name}`, () => {
    afterAll(() => stores.cleanup());

    it('keeps the good records, closes the bad seq as rejected (counted, listed, never resent), and a resend does not loop', async () => {
      const log = await openTestLog([], 1);
      const store = await stores.create();
      const clock = new ManualClock(1_000_000);
      const methods = new CountingInvoker();
      const options = { source: new MessageLogSource(log.log), methods, clock, resend: { graceMs: GRACE, retryMs: GRACE } };
      const send = (records: WireRecord[]) => log.append(toTelemetry(packMessage('d', 'b', records)), clock.now());
      try {
        const reconciler = new Reconciler({ ...options, store });
        await send([reading(1), malformed(2), reading(3)]);
        await send([reading(5)]);
        const first = await reconciler.runOnce();
        expect(first).toMatchObject({ events: 2, accepted: 3, rejected: 0, rejectedRecords: 1 });
        expect((await store.gaps()).map((g) => [g.from, g.to, g.state, g.size])).toEqual([
          [2, 2, 'rejected', 1],
          [4, 4, 'open', 1],
        ]);
        // Past the grace period only the open gap is asked for, again and again; the rejected seq never.
        for (let round = 0; round < 3; round++) {
          clock.advance(GRACE);
          await reconciler.runOnce();
        }
        expect(methods.asked).toEqual([
          { fromSeq: 4, toSeq: 4 },
          { fromSeq: 4, toSeq: 4 },
          { fromSeq: 4, toSeq: 4 },
        ]);
        // The device resends the message with the bad record: duplicates, nothing new, nothing reopened.
        await send([reading(1), malformed(2), reading(3), reading(4)]);
        expect(await reconciler.runOnce()).toMatchObject({ accepted: 1, duplicates: 3, rejectedRecords: 0 });
        expect((await store.gaps()).map((g) => [g.from, g.state])).toEqual([[2, 'rejected']]);
        expect(await reconciler.counters()).toMatchObject({ reconciledRows: 4, openGaps: 0, lostRecords: 0, rejectedRecords: 1 });
        expect((await store.devices())[0]).toMatchObject({ records: 4, maxSeq: 5, duplicates: 3 });

        // A restart reads the rejected seq back from the store.
        const again = await stores.reopen(store);
        try {
          const restarted = new Reconciler({ ...options, store: again });
          expect(await restarted.counters()).toMatchObject({ reconciledRows: 4, openGaps: 0, rejectedRecords: 1 });
        } finally {
          await again.close();
        }
      } finally {
        await store.close();
        await log.close();
      }
    });
  });
}

for (const stores of allStores()) rejectedRecordSuite(stores);
