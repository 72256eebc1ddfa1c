import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../agent/core/clock.js';
import { silentLogger } from '../../../agent/core/logger.js';
import { classOf, decodeWireMessage, type RecordClass } from '../../../agent/core/wire.js';
import { Forwarder, type ForwarderOptions } from '../../../agent/forwarder/forwarder.js';
import { meterUnits } from '../../../agent/forwarder/packer.js';
import type { RecordDraft } from '../../../agent/outbox/outbox.js';
import { FakeHubTransport } from '../../support/fake-transport.js';
import { stagingOutbox } from '../../support/staging-outbox.js';
import { tempDir } from '../../support/tmp.js';

const reading = (i: number): RecordDraft => ({ kind: 'reading', t: 1000 + i, at: 2000 + i, src: 'dev-1', pt: 'temp', v: i, q: 'good' });
const result = (i: number): RecordDraft => ({ kind: 'result', t: 1000 + i, query: 'q', out: 'o', ws: null, we: 1000 + i, key: '[]', rev: 1, row: { n: i } });
const alarm = (i: number): RecordDraft => ({ kind: 'event', t: 1000 + i, name: 'trip', data: { i } });

let debugState: (() => unknown) | undefined;
async function until(predicate: () => boolean, what: string): Promise<void> {
  // Bounded by wall time, not turns: LevelDB answers from its thread pool, slower on a loaded machine.
  for (const deadline = performance.now() + 10_000; performance.now() < deadline; ) {
    if (predicate()) return;
    await new Promise((resolve) => setImmediate(resolve));
  }
  throw new Error(`never happened: ${what} ${JSON.stringify(debugState?.())}`);
}

const recordsOf = (body: Buffer) => decodeWireMessage(body, 'utf-8').records;

/** Strict priority by class over a real LevelDB outbox; the hub is a scripted mock (named so) on a ManualClock. */
describe('Forwarder priority classes (fake hub, real outbox)', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function setup(over: Partial<ForwarderOptions>) {
    const dir = tempDir('priority');
    cleanups.push(dir.cleanup);
    const { store, outbox, stage } = await stagingOutbox(dir.path);
    cleanups.push(() => store.close());
    const clock = new ManualClock(Date.UTC(2026, 11, 1, 23, 0));
    const hub = new FakeHubTransport(clock, { sendTimeoutMs: 60_000 });
    await hub.connect();
    const forwarder = new Forwarder(outbox, hub, {
      device: 'gw', boot: 'b1', maxMessageBytes: 2048, lingerMs: 0, maxInFlight: 1, retryInitialMs: 100, retryMaxMs: 100,
      backlogShare: 0.5, retentionMs: 0, compress: false, clock, logger: silentLogger, random: () => 1, ...over,
    });
    cleanups.push(async () => {
      await hub.close();
      await forwarder.stop();
    });
    debugState = () => ({ depth: outbox.depth, a: outbox.unsentIn('alarm'), r: outbox.unsentIn('result'), rd: outbox.unsentIn('reading'), offered: hub.offered.length, inflight: hub.inFlight, st: { ...forwarder.stats(), traffic: undefined } });
    return { outbox, stage, clock, hub, forwarder };
  }

  it('sends the alarm first, every result before any reading, one class per message, each record once', async () => {
    const { outbox, stage, hub, forwarder } = await setup({});
    // Interleaved, as a pipeline writes them: the alarm is the newest record of all.
    for (let i = 0; i < 20; i++) await stage([...Array.from({ length: 30 }, (_, j) => reading(i * 30 + j)), result(i), result(i + 100)]);
    await stage([alarm(1)]);
    const alarmSeq = outbox.upcomingSeq - 1;
    forwarder.start();
    await until(() => outbox.depth === 0, 'everything sent');
    const messages = hub.acked.map((m) => ({ cls: m.properties.class as RecordClass, records: recordsOf(m.body) }));
    expect(messages[0]!.cls).toBe('alarm');
    expect(messages[0]!.records.map((r) => r.seq)).toEqual([alarmSeq]);
    for (const m of messages) expect(new Set(m.records.map((r) => classOf(r.kind)))).toEqual(new Set([m.cls]));
    const order = messages.map((m) => m.cls);
    expect(order.lastIndexOf('result')).toBeLessThan(order.indexOf('reading'));
    const seqs = messages.flatMap((m) => m.records.map((r) => r.seq)).sort((a, b) => a - b);
    expect(seqs).toEqual(Array.from({ length: alarmSeq }, (_, i) => i + 1));
    // Within a class the seqs go up (one lane, read in seq order).
    for (const cls of ['result', 'reading'] as const) {
      const inClass = messages.filter((m) => m.cls === cls).flatMap((m) => m.records.map((r) => r.seq));
      expect(inClass).toEqual([...inClass].sort((a, b) => a - b));
    }
  });

  it('an alarm takes the slot beyond a full window at once; a second waits for the first', async () => {
    const { outbox, stage, clock, hub, forwarder } = await setup({ maxInFlight: 2 });
    await stage(Array.from({ length: 400 }, (_, i) => reading(i)));
    // Two reading messages and the first alarm wait for their PUBACKs; the rest are acked at once.
    for (let i = 0; i < 3; i++) hub.next({ kind: 'ack', delayMs: 10_000 });
    forwarder.start();
    await until(() => hub.inFlight === 2, 'the window full of readings');
    await stage([alarm(1)]);
    await until(() => hub.offered.length === 3, 'the alarm offered');
    expect(hub.offered[2]!.properties.class).toBe('alarm');
    expect(hub.inFlight).toBe(3);
    await stage([alarm(2)]);
    for (let turn = 0; turn < 300; turn++) await new Promise((resolve) => setImmediate(resolve));
    expect(hub.offered).toHaveLength(3); // one alarm message beyond the window, not more
    clock.advance(10_000);
    await until(() => hub.offered.length >= 4, 'the next message');
    expect(hub.offered[3]!.properties.class).toBe('alarm'); // still ahead of the readings
    await until(() => outbox.depth === 0, 'everything sent');
    expect(hub.offered.slice(4).map((m) => m.properties.class)).toEqual(hub.offered.slice(4).map(() => 'reading'));
  });

  it('a live result lingering to fill its message does not hold the readings back meanwhile', async () => {
    // Both lingers 1 s: these messages are all under one unit, which would otherwise wait 10 s (thin-linger.test.ts).
    const { outbox, stage, clock, hub, forwarder } = await setup({ lingerMs: 1000, thinLingerMs: 1000, maxInFlight: 4 });
    forwarder.start();
    // All live: the result is far from filling a message, the readings fill four and a bit.
    await stage([result(1), ...Array.from({ length: 100 }, (_, i) => reading(i))]);
    await until(() => hub.offered.length >= 4, 'the full reading messages sent');
    expect(hub.offered.map((m) => m.properties.class)).toEqual(['reading', 'reading', 'reading', 'reading']);
    clock.advance(1000); // the result's linger ends (the clock has not moved before)
    await until(() => outbox.unsentIn('result') === 0, 'the result sent');
    expect(hub.offered[4]!.properties.class).toBe('result');
    clock.advance(1000); // the last, partial reading message lingered from when it was first seen
    await until(() => outbox.depth === 0, 'the last readings sent');
    expect(hub.offered.slice(5).map((m) => m.properties.class)).toEqual(['reading']);
  });

  it('counts billed units and bytes per class and path, since start and for the UTC day', async () => {
    const { outbox, stage, hub, forwarder, clock } = await setup({});
    await stage([...Array.from({ length: 200 }, (_, i) => reading(i)), result(1), alarm(1)]);
    forwarder.start();
    await until(() => outbox.depth === 0, 'everything sent');
    const expected: Record<string, { sends: number; records: number; bytes: number; units: number }> = {};
    for (const m of hub.acked) {
      const cell = (expected[m.properties.class!] ??= { sends: 0, records: 0, bytes: 0, units: 0 });
      cell.sends++;
      cell.records += recordsOf(m.body).length;
      cell.bytes += m.body.length;
      cell.units += meterUnits(m.body.length);
    }
    const { traffic } = forwarder.stats();
    expect(traffic.sinceStart).toEqual({ messages: expected });
    expect(traffic.sinceStart.messages!.reading!.units).toBeGreaterThan(1);
    expect(traffic.days).toEqual([{ day: new Date(clock.now()).toISOString().slice(0, 10), traffic: { messages: expected } }]);
  });
});
