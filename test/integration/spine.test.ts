import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AgentStore } from '../../agent/store/store.js';
import { Outbox } from '../../agent/outbox/outbox.js';
import type { ReadingRecord } from '../../agent/core/wire.js';
import { startTestAgent } from '../support/agent.js';
import { allEvents, recordsOf, startHub, untilTelemetry } from '../support/hub.js';
import { tempDir } from '../support/tmp.js';

describe('spine: synthetic driver → LevelDB → real IoT Hub SDK → emulator', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it('delivers every accepted reading once per seq, packed, with the wire properties', async () => {
    const { hub, close } = await startHub();
    cleanups.push(close);
    const dev = await hub.registerDevice('gw-1');
    const data = tempDir('spine');
    cleanups.push(data.cleanup);
    const { agent } = await startTestAgent({ connectionString: dev.connectionString, deviceId: 'gw-1', ca: hub.caPem, dataDir: data.path });

    await untilTelemetry(hub, async () => (await recordsOf(hub, 'gw-1')).length >= 300);
    await agent.stop(10_000);
    const stats = agent.stats();

    const records = (await recordsOf(hub, 'gw-1')) as ReadingRecord[];
    const seqs = [...new Set(records.map((r) => r.seq))].sort((a, b) => a - b);
    expect(stats.readings).toBeGreaterThanOrEqual(300);
    expect(seqs).toEqual(Array.from({ length: stats.readings }, (_, i) => i + 1));
    expect(records[0]).toMatchObject({ kind: 'reading', src: 'sim-1', q: 'good', u: 'C' });
    expect(records.every((r) => r.at >= r.t)).toBe(true);

    const events = (await allEvents(hub)).filter((e) => e.deviceId === 'gw-1');
    // Packed: far fewer messages than readings.
    expect(events.length).toBeLessThan(stats.readings / 5);
    for (const e of events) {
      expect(e.systemProperties['content-type']).toBe('application/json');
      expect(e.properties).toMatchObject({ v: '1', kind: 'reading' });
      const inBody = JSON.parse(e.body.toString('utf8')) as { boot: string; records: Array<{ seq: number }> };
      expect(inBody.boot).toBe(agent.boot);
      expect(e.properties.seqFrom).toBe(String(inBody.records[0]!.seq));
      expect(e.properties.seqTo).toBe(String(inBody.records.at(-1)!.seq));
      expect(e.properties.count).toBe(String(inBody.records.length));
    }
    expect(stats.forwarder.messagesAcked).toBe(events.length);
    expect(stats.outboxDepth).toBe(0);
  });

  it('with a wrong key: refused clearly, nothing reaches the hub, every reading kept on disk', async () => {
    const { hub, close } = await startHub();
    cleanups.push(close);
    const dev = await hub.registerDevice('gw-2');
    const wrongKey = Buffer.alloc(32, 7).toString('base64');
    const cs = dev.connectionString.replace(/SharedAccessKey=[^;]+/, `SharedAccessKey=${wrongKey}`);
    const data = tempDir('spine-wrong-key');
    cleanups.push(data.cleanup);

    const refused = new Promise<string>((resolve) => hub.once('refused', (id) => resolve(id)));
    const { agent, transport } = await startTestAgent({ connectionString: cs, deviceId: 'gw-2', ca: hub.caPem, dataDir: data.path });
    expect(await refused).toBe('gw-2');
    await new Promise<void>((resolve) => {
      const check = () => transport.status().state === 'unauthorized' && resolve();
      transport.events.on('status', check);
      check();
    });
    const status = transport.status();
    await agent.stop(0);

    const stats = agent.stats();
    expect(status.lastError).toMatchObject({ code: 'EDGE_TRANSPORT_UNAUTHORIZED', message: expect.stringMatching(/refused this device’s credentials.*readings stay in the buffer/) });
    expect(stats.readings).toBeGreaterThan(0);
    expect(await recordsOf(hub, 'gw-2')).toEqual([]);

    const store = await AgentStore.open(join(data.path, 'buffer'));
    const outbox = new Outbox(store);
    await outbox.init();
    expect(outbox.depth).toBe(stats.readings);
    await store.close();
  });

  it('resumes after a restart without reusing a seq, under a new boot id', async () => {
    const { hub, close } = await startHub();
    cleanups.push(close);
    const dev = await hub.registerDevice('gw-3');
    const data = tempDir('spine-restart');
    cleanups.push(data.cleanup);
    const opts = { connectionString: dev.connectionString, deviceId: 'gw-3', ca: hub.caPem, dataDir: data.path };

    const first = await startTestAgent(opts);
    await untilTelemetry(hub, async () => (await recordsOf(hub, 'gw-3')).length >= 30);
    await first.agent.stop(10_000);
    const firstCount = first.agent.stats().readings;

    const second = await startTestAgent(opts);
    await untilTelemetry(hub, async () => (await recordsOf(hub, 'gw-3')).length >= firstCount + 30);
    await second.agent.stop(10_000);
    const total = firstCount + second.agent.stats().readings;

    const events = (await allEvents(hub)).filter((e) => e.deviceId === 'gw-3');
    const boots = new Set(events.map((e) => (JSON.parse(e.body.toString('utf8')) as { boot: string }).boot));
    expect(boots).toEqual(new Set([first.agent.boot, second.agent.boot]));
    const seqs = (await recordsOf(hub, 'gw-3')).map((r) => r.seq);
    expect(new Set(seqs).size).toBe(seqs.length);
    expect([...seqs].sort((a, b) => a - b)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
  });
});
