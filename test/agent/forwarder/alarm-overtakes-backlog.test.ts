import { afterEach, describe, expect, it } from 'vitest';
import { systemClock } from '../../../agent/core/clock.js';
import { silentLogger } from '../../../agent/core/logger.js';
import type { OutboundMessage, Transport } from '../../../agent/core/transport.js';
import { decodeWireMessage, type RecordKind } from '../../../agent/core/wire.js';
import { parseConfig } from '../../../agent/config/load.js';
import { Forwarder } from '../../../agent/forwarder/forwarder.js';
import { Outbox, type RecordDraft } from '../../../agent/outbox/outbox.js';
import { AgentStore } from '../../../agent/store/store.js';
import { allEvents, startHub } from '../../support/hub.js';
import { testTransport } from '../../support/agent.js';
import { tempDir } from '../../support/tmp.js';

const BACKLOG = 100_000;
const T0 = Date.UTC(2026, 11, 1);

/** The real transport, noting the messages handed to it, in order. */
class WatchedTransport implements Transport {
  readonly handed: string[] = [];
  constructor(private readonly inner: Transport) {}
  connect(): Promise<void> {
    return this.inner.connect();
  }
  close(): Promise<void> {
    return this.inner.close();
  }
  status() {
    return this.inner.status();
  }
  async send(message: OutboundMessage): Promise<void> {
    this.handed.push(message.messageId);
    await this.inner.send(message);
  }
}

/** Every fifth record a window result, the rest raw readings, as a pipeline interleaves them. */
function backlogDraft(i: number): RecordDraft {
  const t = T0 + i;
  if (i % 5 === 4) return { kind: 'result', t, query: 'avg', out: 'avg', ws: t - 1000, we: t, key: `["p${i % 50}"]`, rev: 1, row: { avg: i / 7 } };
  return { kind: 'reading', t, at: t + 3, src: 'plc-1', pt: `p${i % 50}`, v: Math.round(Math.sin(i / 100) * 1000) / 10, q: 'good' };
}

/**
 * The alarm overtakes a 100,000-record backlog: a real LevelDB outbox, the emulator through the
 * real SDK (the connection supervisor), the hub refusing connections while the backlog builds.
 *
 * "First" precisely: the alarm's message is the first to arrive once the hub is back, except for
 * a message the forwarder had already handed to the transport before the alarm existed (while the
 * link is down it hands over one at a time, so at most one). After the alarm every result goes
 * before any reading, and every record arrives (counted by seq per kind).
 */
describe('an alarm overtakes a 100k backlog of results and readings (emulator, real SDK, real LevelDB)', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it('arrives first, and the backlog still arrives whole', { timeout: 240_000 }, async () => {
    const { hub, close } = await startHub();
    cleanups.push(close);
    const device = await hub.registerDevice('prio-gw');
    const dir = tempDir('alarm-backlog');
    cleanups.push(dir.cleanup);
    const store = await AgentStore.open(dir.path);
    cleanups.push(() => store.close());
    const outbox = new Outbox(store);
    await outbox.init();
    const config = parseConfig(
      { hub: { connectionString: device.connectionString }, dataDir: dir.path, forwarding: { sendTimeoutMs: 10_000, connectTimeoutMs: 500, retryInitialMs: 20, retryMaxMs: 100 } },
      'test config',
    );
    hub.faults.refuseConnections({ mode: 'server-unavailable' });
    const transport = new WatchedTransport(testTransport(device.connectionString, hub.caPem, config, systemClock));
    cleanups.push(() => transport.close());
    const forwarder = new Forwarder(outbox, transport, {
      device: 'prio-gw', boot: 'b1', maxMessageBytes: 32 * 1024, lingerMs: 20, maxInFlight: 8, retryInitialMs: 20, retryMaxMs: 100,
      backlogShare: 0.5, retentionMs: 0, compress: true, clock: systemClock, logger: silentLogger,
    });
    cleanups.push(() => forwarder.stop());
    forwarder.start();

    const staged = new Map<RecordKind, Set<number>>();
    let handedBeforeAlarm = new Set<string>();
    const stage = async (drafts: RecordDraft[]) => {
      const s = outbox.stage(drafts);
      const first = outbox.upcomingSeq;
      await store.write(s.ops, { sync: false });
      // Noted in the same turn as the commit: no send can slip in between.
      handedBeforeAlarm = new Set(transport.handed);
      s.commit();
      drafts.forEach((d, i) => (staged.get(d.kind) ?? staged.set(d.kind, new Set()).get(d.kind)!).add(first + i));
    };
    for (let i = 0; i < BACKLOG; i += 2000) await stage(Array.from({ length: 2000 }, (_, j) => backlogDraft(i + j)));
    expect(outbox.depth).toBe(BACKLOG);
    expect(await allEvents(hub)).toEqual([]); // the hub was down all along

    await stage([{ kind: 'event', t: T0 + BACKLOG, name: 'high-pressure', data: { bar: 12.5 } }]);
    const alarmSeq = outbox.upcomingSeq - 1;
    hub.faults.acceptConnections();
    expect(await forwarder.flush(180_000)).toBe(true);

    const arrived = (await allEvents(hub))
      .filter((e) => e.deviceId === 'prio-gw')
      .sort((a, b) => a.enqueuedTime - b.enqueuedTime || a.sequenceNumber - b.sequenceNumber)
      .map((e) => ({ id: e.systemProperties['message-id'], cls: e.properties.class, records: decodeWireMessage(e.body, e.systemProperties['content-encoding']).records }));
    const at = arrived.findIndex((m) => m.records.some((r) => r.seq === alarmSeq));
    expect(arrived[at]!.cls).toBe('alarm');
    expect(arrived[at]!.records.map((r) => r.seq)).toEqual([alarmSeq]);
    // Only a message handed over before the alarm existed may come before it, and while the
    // link is down the transport holds one at a time: the alarm is the first or second to arrive.
    expect(at).toBeLessThanOrEqual(1);
    for (const m of arrived.slice(0, at)) expect(handedBeforeAlarm.has(m.id!)).toBe(true);
    // Then strict priority: every result message before any reading message, one class each.
    const after = arrived.slice(at + 1).map((m) => m.cls);
    expect(after.lastIndexOf('result')).toBeLessThan(after.indexOf('reading'));
    for (const m of arrived) expect(new Set(m.records.map((r) => (r.kind === 'reading' ? 'reading' : r.kind === 'result' ? 'result' : 'alarm')))).toEqual(new Set([m.cls]));
    // Every record arrived, counted by seq per kind.
    const got = new Map<RecordKind, Set<number>>();
    for (const r of arrived.flatMap((m) => m.records)) (got.get(r.kind) ?? got.set(r.kind, new Set()).get(r.kind)!).add(r.seq);
    expect([...got].map(([k, s]) => [k, s.size]).sort()).toEqual([...staged].map(([k, s]) => [k, s.size]).sort());
    expect(got).toEqual(staged);
    expect(staged.get('reading')!.size).toBe(80_000);
    expect(arrived.length).toBeGreaterThan(20); // a backlog of many messages, not one
    expect(outbox.depth).toBe(0);
  });
});
