import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../agent/core/clock.js';
import { silentLogger } from '../../../agent/core/logger.js';
import { decodeWireMessage } from '../../../agent/core/wire.js';
import { Forwarder, type ForwarderOptions } from '../../../agent/forwarder/forwarder.js';
import { Outbox, type RecordDraft } from '../../../agent/outbox/outbox.js';
import { AgentStore } from '../../../agent/store/store.js';
import { FakeHubTransport } from '../../support/fake-transport.js';
import { tempDir } from '../../support/tmp.js';

function draft(i: number): RecordDraft {
  return { kind: 'reading', t: 1000 + i, at: 2000 + i, src: 'dev-1', pt: 'temp', v: i, q: 'good' };
}

/** Yields to the event loop (LevelDB answers from its thread pool) until `predicate` holds. */
async function until(predicate: () => boolean, what: string): Promise<void> {
  for (let turn = 0; turn < 20_000; turn++) {
    if (predicate()) return;
    await new Promise((resolve) => setImmediate(resolve));
  }
  throw new Error(`never happened: ${what}`);
}

const seqsOf = (body: Buffer) => decodeWireMessage(body, 'utf-8').records.map((r) => r.seq);

/**
 * The forwarder's PUBACK-then-delete logic against a scripted hub (a mock transport, named so:
 * a real broker cannot fail one chosen send) over a real LevelDB outbox, on a ManualClock.
 */
describe('Forwarder (fake hub, real outbox, ManualClock)', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function setup(over: Partial<ForwarderOptions> = {}, records = 10) {
    const dir = tempDir('forwarder');
    cleanups.push(dir.cleanup);
    const store = await AgentStore.open(dir.path);
    cleanups.push(() => store.close());
    const outbox = new Outbox(store);
    await outbox.init();
    const staged = outbox.stage(Array.from({ length: records }, (_, i) => draft(i)));
    await store.write(staged.ops, { sync: true });
    staged.commit();
    const clock = new ManualClock(1_000_000);
    const hub = new FakeHubTransport(clock, { sendTimeoutMs: 5000 });
    await hub.connect();
    const forwarder = new Forwarder(outbox, hub, {
      device: 'gw', boot: 'boot-1', maxMessageBytes: 64 * 1024, lingerMs: 0, maxInFlight: 4, retryInitialMs: 100, retryMaxMs: 100,
      backlogShare: 0.5, retentionMs: 60_000, compress: false, clock, logger: silentLogger, random: () => 1, ...over,
    });
    cleanups.push(async () => {
      await hub.close();
      await forwarder.stop();
    });
    return { store, outbox, clock, hub, forwarder };
  }

  it('deletes records from the outbox only after the PUBACK of the message holding them', async () => {
    const { outbox, clock, hub, forwarder } = await setup();
    hub.next({ kind: 'ack', delayMs: 1000 });
    forwarder.start();
    await until(() => hub.offered.length === 1, 'a send');
    expect(seqsOf(hub.offered[0]!.body)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    await until(() => hub.inFlight === 1, 'the send awaiting its PUBACK');
    expect(outbox.depth).toBe(10);
    clock.advance(1000);
    await until(() => outbox.depth === 0, 'records marked sent');
    expect(forwarder.stats()).toMatchObject({ messagesAcked: 1, recordsAcked: 10 });
  });

  it('a failed send keeps its records and sends them again, from the oldest, after the backoff', async () => {
    const { outbox, clock, hub, forwarder } = await setup();
    hub.next({ kind: 'fail' });
    forwarder.start();
    await until(() => forwarder.stats().sendFailures === 1, 'the failure');
    expect(outbox.depth).toBe(10);
    expect(hub.offered).toHaveLength(1);
    clock.advance(100); // the backoff (random = 1: its whole ceiling)
    await until(() => outbox.depth === 0, 'the resend acknowledged');
    expect(hub.offered.map((m) => seqsOf(m.body)[0])).toEqual([1, 1]);
    expect(hub.acked).toHaveLength(1);
  });

  it('sends that hang hold the window: never more than maxInFlight messages await a PUBACK', async () => {
    const { hub, forwarder } = await setup({ maxInFlight: 2, maxMessageBytes: 1024 }, 200);
    hub.next(...Array.from({ length: 50 }, () => ({ kind: 'hang' as const })));
    forwarder.start();
    await until(() => hub.offered.length === 2, 'two sends');
    // Let the loop run on: nothing more may leave while both wait.
    for (let turn = 0; turn < 200; turn++) await new Promise((resolve) => setImmediate(resolve));
    expect(hub.offered).toHaveLength(2);
    expect(forwarder.stats().inFlight).toBe(2);
  });

  it('a PUBACK that comes while the store refuses writes is marked sent later, never sent again', async () => {
    const { store, outbox, clock, hub, forwarder } = await setup();
    hub.next({ kind: 'ack', delayMs: 1000 });
    forwarder.start();
    await until(() => hub.inFlight === 1, 'the send awaiting its PUBACK');
    // A MOCK fault, named so: the error LevelDB gives on ENOSPC, without filling a disk.
    store.notice(Object.assign(new Error('IO error: /data/000005.log: No space left on device'), { code: 'LEVEL_IO_ERROR' }));
    expect(store.fault?.kind).toBe('disk-full');
    clock.advance(1000);
    await until(() => forwarder.stats().messagesAcked === 1, 'the PUBACK');
    for (let turn = 0; turn < 200; turn++) await new Promise((resolve) => setImmediate(resolve));
    expect(outbox.depth).toBe(10); // not marked: the store refuses
    expect(hub.offered).toHaveLength(1); // and not sent again
    await store.reopen(); // space is back
    await until(() => outbox.depth === 0, 'marked sent once the store takes writes');
    expect(hub.offered).toHaveLength(1);
  });
});
