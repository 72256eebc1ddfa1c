import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../agent/core/clock.js';
import { EdgeError } from '../../../agent/core/errors.js';
import type { WireRecord } from '../../../agent/core/wire.js';
import { MessageLogSource, Reconciler, type MethodInvoker, type MethodResponse, type ReconcilerStore } from '../../../cloud/reconciler/index.js';
import { openTestLog, type TestLog } from './support/real-log.js';
import { sqliteStores } from './support/stores.js';
import { buildScenario } from './support/scenario.js';
import { expectStoreMatchesTruth } from './support/compare.js';
import { packMessage, toTelemetry } from './support/wire-builder.js';

const GRACE = 10_000;
const RETRY = 50_000;
const reading = (seq: number): WireRecord => ({ seq, kind: 'reading', t: 1_000 + seq, at: 1_000 + seq, src: 's', pt: 'p', v: seq, q: 'good' });

/** A scripted `resend` answerer: each call gets the next scripted reply (or throws it). */
class ScriptedInvoker implements MethodInvoker {
  readonly calls: Array<{ device: string; payload: unknown; at: number }> = [];
  constructor(
    private readonly clock: ManualClock,
    private readonly replies: Array<MethodResponse | Error>,
  ) {}
  async invoke(device: string, _method: string, payload: unknown): Promise<MethodResponse> {
    this.calls.push({ device, payload, at: this.clock.now() });
    const next = this.replies.shift() ?? { status: 200, payload: {} };
    if (next instanceof Error) throw next;
    return next;
  }
}

describe('Reconciler: resend policy, recovery, service loop', () => {
  const stores = sqliteStores();
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0)) await c();
  });

  async function setup(replies: Array<MethodResponse | Error>, wrap?: (s: ReconcilerStore) => ReconcilerStore) {
    const log: TestLog = await openTestLog();
    const store = await stores.create();
    cleanups.push(async () => {
      await store.close();
      await log.close();
    });
    const clock = new ManualClock(1_000_000);
    const invoker = new ScriptedInvoker(clock, replies);
    const reconciler = new Reconciler({
      source: new MessageLogSource(log.log),
      store: wrap ? wrap(store) : store,
      methods: invoker,
      clock,
      pollMs: 500,
      resend: { graceMs: GRACE, retryMs: RETRY },
    });
    const send = (seqs: number[]) => log.append(toTelemetry(packMessage('d', 'b', seqs.map(reading))), clock.now());
    return { log, store, clock, invoker, reconciler, send };
  }

  it('asks only after the grace period, retries an undelivered call only after the retry wait', async () => {
    const { clock, invoker, reconciler, send, store } = await setup([new EdgeError('EDGE_HUB_DEVICE_OFFLINE', 'offline (404)'), { status: 500, payload: 'busy' }]);
    await send([1, 2, 6]);
    await reconciler.runOnce();
    clock.advance(GRACE - 1);
    await reconciler.runOnce();
    expect(invoker.calls).toEqual([]);
    clock.advance(1);
    await reconciler.runOnce();
    expect(invoker.calls).toEqual([{ device: 'd', payload: { fromSeq: 3, toSeq: 5 }, at: 1_000_000 + GRACE }]);
    expect(await store.gaps()).toMatchObject([{ from: 3, to: 5, state: 'open', attempts: 1, requestedAt: 1_000_000 + GRACE }]);
    clock.advance(RETRY - 1);
    await reconciler.runOnce();
    expect(invoker.calls).toHaveLength(1);
    clock.advance(1);
    await reconciler.runOnce();
    expect(invoker.calls).toHaveLength(2);
    // A 500 is not an answer: still open, asked again later.
    expect(await store.gaps()).toMatchObject([{ state: 'open', attempts: 2 }]);
    expect(reconciler.openGaps).toBe(1);
  });

  it('closes only the evicted part the device was asked about; a lost record that turns up still counts', async () => {
    const { clock, invoker, reconciler, send, store } = await setup([
      // Asked about 3–4, the device also names 6–9: that gap was not its question, so it stays open.
      { status: 200, payload: { resent: 0, evicted: [{ fromSeq: 1, toSeq: 4 }, { fromSeq: 6, toSeq: 9 }] } },
      { status: 200, payload: { resent: 3, evicted: [{ fromSeq: 9, toSeq: 9 }] } },
    ]);
    await send([1, 2, 5, 10]);
    await reconciler.runOnce();
    clock.advance(GRACE);
    await reconciler.runOnce();
    expect(invoker.calls.map((c) => c.payload)).toEqual([
      { fromSeq: 3, toSeq: 4 },
      { fromSeq: 6, toSeq: 9 },
    ]);
    expect((await store.gaps()).map((g) => [g.from, g.to, g.state])).toEqual([
      [3, 4, 'lost'],
      [6, 8, 'open'],
      [9, 9, 'lost'],
    ]);
    await send([4, 6, 7, 8, 9]);
    await reconciler.runOnce();
    expect((await store.gaps()).map((g) => [g.from, g.to, g.state])).toEqual([[3, 3, 'lost']]);
    expect((await store.devices())[0]).toMatchObject({ lostRecords: 1, records: 9 });
    expect(await reconciler.counters()).toMatchObject({ openGaps: 0, lostRecords: 1, reconciledRows: 9 });
  });

  it('ignores an answer it does not understand', async () => {
    const { clock, reconciler, send, store } = await setup([{ status: 200, payload: { evicted: 'all of it' } }]);
    await send([1, 3]);
    await reconciler.runOnce();
    clock.advance(GRACE);
    await reconciler.runOnce();
    expect(await store.gaps()).toMatchObject([{ from: 2, to: 2, state: 'open', attempts: 1 }]);
  });

  it('after a failed commit, memory is reloaded from the store: the retry neither loses nor double counts', async () => {
    let failures = 1;
    const { reconciler, send, store } = await setup([], (s) => ({
      ...bind(s),
      commit: async (batch) => {
        if (batch.readings.length > 0 && failures-- > 0) throw new Error('disk hiccup');
        return s.commit(batch);
      },
    }));
    await send([1, 2, 3]);
    await expect(reconciler.runOnce()).rejects.toThrow(/disk hiccup/);
    await reconciler.runOnce();
    expect((await store.devices())[0]).toMatchObject({ records: 3, duplicates: 0, maxSeq: 3 });
    expect(await store.rowCounts()).toEqual({ results: 0, readings: 3, events: 0 });
  });

  it('two instances on one store by mistake: the checkpoint compare-and-set keeps every record counted once', async () => {
    const scenario = buildScenario({ seed: 11, devices: 4, recordsPerDevice: 300, duplicateRate: 0.2, reviseRate: 0.3 });
    const log = await openTestLog(scenario.deliveries);
    const first = await stores.create();
    const second = await stores.reopen(first);
    cleanups.push(async () => {
      await first.close();
      await second.close();
      await log.close();
    });
    const make = (store: ReconcilerStore) => new Reconciler({ source: new MessageLogSource(log.log), store, batchSize: 7, clock: new ManualClock(0) });
    const [a, b] = [make(first), make(second)];
    let refused = 0;
    const step = async (r: Reconciler) => {
      try {
        return (await r.runOnce()).events;
      } catch (err) {
        expect(err).toMatchObject({ code: 'EDGE_STORE_LOCKED' });
        refused++;
        return 1;
      }
    };
    // Both load state first, then run passes concurrently (they interleave at every await).
    await Promise.all([a.counters(), b.counters()]);
    for (let i = 0; i < 200; i++) {
      const [x, y] = await Promise.all([step(a), step(b)]);
      if (x + y === 0) break;
    }
    expect(refused).toBeGreaterThan(0);
    await expectStoreMatchesTruth(first, scenario.truth);
  });

  it('in start() mode a device slow to answer does not hold up reading; its answer is applied when it comes', async () => {
    let answer: ((r: MethodResponse) => void) | undefined;
    const slow: MethodInvoker = {
      invoke: () => new Promise<MethodResponse>((resolve) => (answer = resolve)),
    };
    const log = await openTestLog();
    const store = await stores.create();
    await store.migrate();
    cleanups.push(async () => {
      await store.close();
      await log.close();
    });
    const clock = new ManualClock(1_000_000);
    const reconciler = new Reconciler({ source: new MessageLogSource(log.log), store, methods: slow, clock, pollMs: 500, resend: { graceMs: 0, retryMs: RETRY } });
    const send = (seqs: number[]) => log.append(toTelemetry(packMessage('d', 'b', seqs.map(reading))), clock.now());
    const until = async (what: string, cond: () => Promise<boolean>) => {
      // Bounded by time, not turns: a loaded machine may take many turns for one commit.
      const deadline = Date.now() + 10_000;
      while (!(await cond()) && Date.now() < deadline) await new Promise((r) => setImmediate(r));
      expect(await cond(), what).toBe(true);
    };
    await send([1, 2, 5]);
    reconciler.start();
    await until('gap asked about', async () => (await store.readings()).length === 3 && answer !== undefined);
    // The call hangs; reading goes on.
    await send([6, 7]);
    clock.advance(500);
    await until('new data read while the call hangs', async () => (await store.rowCounts()).readings === 5);
    expect(await store.gaps()).toMatchObject([{ from: 3, to: 4, state: 'open' }]);
    answer!({ status: 200, payload: { resent: 0, evicted: [{ fromSeq: 3, toSeq: 4 }] } });
    await until('answer applied', async () => (await store.gaps())[0]?.state === 'lost');
    await reconciler.stop();
    expect(await reconciler.counters()).toMatchObject({ openGaps: 0, lostRecords: 2, resendRequests: 1 });
  });

  it('refuses nonsense options at construction, naming the option', async () => {
    const log = await openTestLog();
    const store = await stores.create();
    cleanups.push(async () => {
      await store.close();
      await log.close();
    });
    const source = new MessageLogSource(log.log);
    expect(() => new Reconciler({ source, store, batchSize: 0 })).toThrow(/batchSize must be a positive integer, got 0/);
    expect(() => new Reconciler({ source, store, resend: { graceMs: -1 } })).toThrow(/resend.graceMs must be a non-negative integer/);
    expect(() => new Reconciler({ source, store, resend: { timeoutMs: 0 } })).toThrow(/resend.timeoutMs/);
    expect(() => new Reconciler({ source, store, skewThresholdMs: Number.NaN })).toThrow(/skewThresholdMs/);
  });

  it('start() keeps reading on the injected clock; stop() waits for the pass in flight', async () => {
    const { clock, reconciler, send, store } = await setup([]);
    await store.migrate();
    await send([1, 2]);
    reconciler.start();
    const until = async (cond: () => Promise<boolean>) => {
      const deadline = Date.now() + 10_000;
      while (!(await cond()) && Date.now() < deadline) await new Promise((r) => setImmediate(r));
      expect(await cond()).toBe(true);
    };
    await until(async () => (await store.rowCounts()).readings === 2);
    await send([3]);
    clock.advance(500);
    await until(async () => (await store.rowCounts()).readings === 3);
    await reconciler.stop();
    await send([4]);
    clock.advance(5_000);
    expect((await store.rowCounts()).readings).toBe(3);
  });
});

/** The store's methods bound to it, so a test can override one. */
function bind(s: ReconcilerStore): ReconcilerStore {
  return {
    kind: s.kind,
    migrate: () => s.migrate(),
    load: (x) => s.load(x),
    loadCheckpoints: (x) => s.loadCheckpoints(x),
    commit: (b) => s.commit(b),
    results: (f) => s.results(f),
    readings: (d) => s.readings(d),
    events: (d) => s.events(d),
    gaps: () => s.gaps(),
    devices: () => s.devices(),
    rowCounts: () => s.rowCounts(),
    close: () => s.close(),
  };
}
