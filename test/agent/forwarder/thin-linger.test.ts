import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock, type TimerHandle } from '../../../agent/core/clock.js';
import { silentLogger } from '../../../agent/core/logger.js';
import { decodeWireMessage } from '../../../agent/core/wire.js';
import { Forwarder, thinLingerOf, type ForwarderOptions } from '../../../agent/forwarder/forwarder.js';
import { METER_UNIT_BYTES, packMessage } from '../../../agent/forwarder/packer.js';
import type { RecordDraft } from '../../../agent/outbox/outbox.js';
import { FakeHubTransport } from '../../support/fake-transport.js';
import { stagingOutbox } from '../../support/staging-outbox.js';
import { tempDir } from '../../support/tmp.js';

const reading = (i: number, pt = 'temp'): RecordDraft => ({ kind: 'reading', t: 1000 + i, at: 2000 + i, src: 'dev-1', pt, v: i, q: 'good' });
const alarm = (i: number): RecordDraft => ({ kind: 'event', t: 1000 + i, name: 'trip', data: { i } });

/**
 * A ManualClock that tells when a timer is armed and for when: how a test knows, without
 * sleeping, that the forwarder went to sleep until a given time (nothing else can then happen).
 */
class WatchedClock extends ManualClock {
  readonly due: number[] = [];
  override setTimeout(fn: () => void, ms: number): TimerHandle {
    this.due.push(this.now() + Math.max(0, ms));
    return super.setTimeout(fn, ms);
  }
}

/** Yields to the event loop (LevelDB answers from its thread pool) until `predicate` holds. */
async function until(predicate: () => boolean, what: string): Promise<void> {
  for (const deadline = performance.now() + 10_000; performance.now() < deadline; ) {
    if (predicate()) return;
    await new Promise((resolve) => setImmediate(resolve));
  }
  throw new Error(`never happened: ${what}`);
}

const seqsOf = (body: Buffer, encoding: 'utf-8' | 'gzip' = 'utf-8') => decodeWireMessage(body, encoding).records.map((r) => r.seq);
const START = 1_000_000;

/**
 * The billing-aware linger over a real LevelDB outbox, on a ManualClock; the hub is a scripted
 * mock (named so) that acknowledges at once. Defaults: lingerMs 1 s, thinLingerMs unset (10 s).
 */
describe('Forwarder thin linger (fake hub, real outbox, ManualClock)', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function setup(over: Partial<ForwarderOptions> = {}) {
    const dir = tempDir('thin-linger');
    cleanups.push(dir.cleanup);
    const { store, outbox, stage } = await stagingOutbox(dir.path);
    cleanups.push(() => store.close());
    const clock = new WatchedClock(START);
    const hub = new FakeHubTransport(clock, { sendTimeoutMs: 60_000 });
    await hub.connect();
    const options: ForwarderOptions = {
      device: 'gw', boot: 'b1', maxMessageBytes: 64 * 1024, lingerMs: 1000, maxInFlight: 4, retryInitialMs: 100, retryMaxMs: 100,
      backlogShare: 0.5, retentionMs: 0, compress: false, clock, logger: silentLogger, random: () => 1, ...over,
    };
    const forwarder = new Forwarder(outbox, hub, options);
    cleanups.push(async () => {
      await hub.close();
      await forwarder.stop();
    });
    // Started before anything is staged: what comes is live (a backlog never lingers).
    forwarder.start();
    await until(() => outbox.upcomingSeq === 1, 'the forwarder started');
    /** The body the forwarder would build from everything unsent now (the records it would send). */
    const bodyNow = async () => {
      const records = await outbox.readClass('reading', 0, 10_000);
      return packMessage(records, { device: options.device, boot: options.boot, maxBytes: options.maxMessageBytes, compress: options.compress }).body.length;
    };
    return { outbox, stage, clock, hub, forwarder, bodyNow };
  }

  it('a thin live message waits for more records up to the thin linger (10 × lingerMs), then goes with all of them', async () => {
    const { stage, clock, hub, bodyNow } = await setup();
    await stage([reading(1), reading(2), reading(3)]);
    await until(() => clock.due.includes(START + 10_000), 'the forwarder asleep until the thin linger ends');
    expect(await bodyNow()).toBeLessThan(METER_UNIT_BYTES * 0.9);
    clock.set(START + 5_000); // past lingerMs: a thin message still waits
    await stage([reading(4), reading(5)]);
    // The new records woke it; it sleeps again until the same end (the wait began with the first record).
    await until(() => clock.due.filter((t) => t === START + 10_000).length >= 2, 'asleep again until the same end');
    clock.set(START + 9_999);
    expect(hub.offered).toHaveLength(0);
    clock.set(START + 10_000);
    await until(() => hub.offered.length === 1, 'the thin message sent');
    expect(seqsOf(hub.offered[0]!.body)).toEqual([1, 2, 3, 4, 5]);
  });

  it('a message past one billed unit (not full) goes at lingerMs, as before', async () => {
    const { stage, clock, hub, bodyNow } = await setup();
    await stage(Array.from({ length: 60 }, (_, i) => reading(i)));
    expect(await bodyNow()).toBeGreaterThan(METER_UNIT_BYTES);
    await until(() => clock.due.includes(START + 1_000), 'the forwarder asleep until lingerMs ends');
    expect(clock.due).not.toContain(START + 10_000);
    expect(hub.offered).toHaveLength(0);
    clock.set(START + 1_000);
    await until(() => hub.offered.length === 1, 'the message sent');
    expect(seqsOf(hub.offered[0]!.body)).toHaveLength(60);
  });

  it('a message that fills its one unit goes at once', async () => {
    const { stage, clock, hub, bodyNow, outbox } = await setup({ lingerMs: 60_000, thinLingerMs: 600_000 });
    // Staged one at a time, each waking a linger, until the body fills 90 % of a unit.
    let i = 0;
    while (hub.offered.length === 0) {
      await stage([reading(i++)]);
      const size = await bodyNow();
      if (size >= METER_UNIT_BYTES * 0.9) {
        expect(size).toBeLessThanOrEqual(METER_UNIT_BYTES); // one ~100-byte record cannot jump the 410-byte band
        await until(() => hub.offered.length === 1, 'the filled unit sent');
        break;
      }
      await until(() => clock.due.includes(START + 600_000), 'still thin: asleep until the thin linger ends');
      expect(hub.offered).toHaveLength(0);
    }
    expect(clock.now()).toBe(START);
    expect(seqsOf(hub.offered[0]!.body)).toHaveLength(outbox.upcomingSeq - 1);
  });

  it('an alarm never waits, while a thin reading message keeps waiting', async () => {
    const { stage, clock, hub } = await setup();
    await stage([reading(1)]);
    await until(() => clock.due.includes(START + 10_000), 'the reading lingering');
    await stage([alarm(1)]);
    await until(() => hub.offered.length === 1, 'the alarm sent');
    expect(hub.offered[0]!.properties.class).toBe('alarm');
    expect(clock.now()).toBe(START);
    clock.set(START + 10_000);
    await until(() => hub.offered.length === 2, 'the reading sent at the end of its thin linger');
    expect(hub.offered[1]!.properties.class).toBe('reading');
  });

  it('a flush (as at shutdown) sends a thin message at once', async () => {
    const { stage, clock, hub, forwarder, outbox } = await setup();
    await stage([reading(1), reading(2)]);
    await until(() => clock.due.includes(START + 10_000), 'the readings lingering');
    expect(await forwarder.flush(5_000)).toBe(true);
    expect(outbox.depth).toBe(0);
    expect(seqsOf(hub.offered[0]!.body)).toEqual([1, 2]);
    expect(clock.now()).toBe(START);
  });

  it('a live change of thinLingerMs (the twin) applies to the message already waiting', async () => {
    const { stage, clock, hub, forwarder } = await setup();
    await stage([reading(1)]);
    await until(() => clock.due.includes(START + 10_000), 'lingering for the default 10 s');
    forwarder.update({ thinLingerMs: 3_000 });
    await until(() => clock.due.includes(START + 3_000), 'lingering until the new bound');
    clock.set(START + 2_999);
    expect(hub.offered).toHaveLength(0);
    clock.set(START + 3_000);
    await until(() => hub.offered.length === 1, 'sent at the new bound');
    // Set below lingerMs, the thin linger is lingerMs: a thin message never goes sooner than a fuller one.
    forwarder.update({ thinLingerMs: 0 });
    await stage([reading(2)]);
    await until(() => clock.due.includes(START + 4_000), 'lingering for lingerMs');
    expect(clock.due).not.toContain(START + 3_000 + 10_000);
    clock.set(START + 4_000);
    await until(() => hub.offered.length === 2, 'sent at lingerMs');
  });

  it('lingerMs 0 keeps meaning "send at once", thin or not', async () => {
    const { stage, hub, clock } = await setup({ lingerMs: 0 });
    await stage([reading(1)]);
    await until(() => hub.offered.length === 1, 'sent at once');
    expect(clock.now()).toBe(START);
  });

  it('a message cut short of one unit by a shrunken read limit reads on instead of going as a sliver', async () => {
    const { stage, clock, hub } = await setup({ compress: true, maxMessageBytes: 4096, lingerMs: 0 });
    // Incompressible records first: full 4 KB messages of a few records each shrink the read limit to its floor (64).
    await stage(Array.from({ length: 12 }, (_, i) => reading(i, randomBytes(600).toString('base64'))));
    await until(() => hub.acked.flatMap((m) => seqsOf(m.body, 'gzip')).length === 12, 'all 12 acknowledged');
    const before = hub.offered.length;
    expect(before).toBeGreaterThanOrEqual(2); // full messages of a few records each
    // Then 300 small readings. The first message after the incompressible ones is sized by their
    // ratio (about 60 records); the rest gzip far under a unit per read limit's worth, so a cut
    // there reads on: one more message, where sending each cut read would take two.
    await stage(Array.from({ length: 300 }, (_, i) => reading(100 + i)));
    await until(() => hub.acked.flatMap((m) => seqsOf(m.body, 'gzip')).length === 312, 'all acknowledged');
    const small = hub.offered.slice(before).map((m) => seqsOf(m.body, 'gzip').length);
    expect(small.reduce((a, b) => a + b, 0)).toBe(300);
    expect(small).toHaveLength(2);
    expect(clock.now()).toBe(START);
  });
});


describe('thinLingerOf (the default thin linger)', () => {
  it('is 10 × lingerMs, at most 10 s unless lingerMs is longer; a set thinLingerMs never goes below lingerMs', () => {
    expect([0, 20, 1000, 2000, 10_000, 30_000].map((lingerMs) => thinLingerOf({ lingerMs }))).toEqual([0, 200, 10_000, 10_000, 10_000, 30_000]);
    expect(thinLingerOf({ lingerMs: 1000, thinLingerMs: 60_000 })).toBe(60_000);
    expect(thinLingerOf({ lingerMs: 1000, thinLingerMs: 0 })).toBe(1000);
  });
});
