import { createRequire } from 'node:module';
import { afterEach, describe, expect, it } from 'vitest';
import { ConnectionSupervisor } from '../../agent/transport/supervisor.js';
import type { ConnectionEvent } from '../../agent/transport/connection-history.js';
import { supervisorOptions, untilHistory } from '../agent/transport/support.js';
import { startHub } from '../support/hub.js';

const message = (i: number) => ({ messageId: `m${i}`, body: Buffer.from(`{"i":${i}}`), contentType: 'application/json' as const, contentEncoding: 'utf-8' as const, properties: { i: String(i) } });

describe('connection supervisor: connect and tell failures apart', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it('connects with its own SAS token and sends', async () => {
    const { hub, close } = await startHub();
    cleanups.push(close);
    const dev = await hub.registerDevice('sup-1');
    const s = new ConnectionSupervisor(supervisorOptions(dev.connectionString, hub.caPem));
    cleanups.push(() => s.close());
    await s.send(message(1));
    expect(hub.messageCount()).toBe(1);
    expect(s.status()).toMatchObject({ state: 'connected', generation: 1, auth: 'sas', totals: { connects: 1, failures: 0 } });
  });

  it("leaves the SDK's MQTT client without its 65,536-Buffer number table (~6 MB of heap)", async () => {
    // The mqtt-packet the SDK really uses, found the way Node finds it from the SDK.
    const from = (req: NodeJS.Require, name: string) => createRequire(req.resolve(name));
    const mqtt = from(from(from(createRequire(import.meta.url), 'azure-iot-device-mqtt'), 'azure-iot-mqtt-base'), 'mqtt');
    const numbers = from(mqtt, 'mqtt-packet')('./numbers.js') as { cache: Record<number, Buffer> };
    const { hub, close } = await startHub();
    cleanups.push(close);
    const dev = await hub.registerDevice('sup-3');
    const s = new ConnectionSupervisor(supervisorOptions(dev.connectionString, hub.caPem));
    cleanups.push(() => s.close());
    await s.send(message(1));
    expect(hub.messageCount()).toBe(1);
    expect(Object.keys(numbers.cache)).toHaveLength(0);
  });

  it('wrong key → unauthorized; hub refusing (CONNACK 3) or resetting → unavailable, and it keeps trying', async () => {
    const { hub, close } = await startHub();
    cleanups.push(close);
    const dev = await hub.registerDevice('sup-2');
    const wrong = dev.connectionString.replace(/SharedAccessKey=[^;]+/, `SharedAccessKey=${Buffer.alloc(32, 7).toString('base64')}`);
    const bad = new ConnectionSupervisor(supervisorOptions(wrong, hub.caPem));
    cleanups.push(() => bad.close());
    const failedBad = untilHistory(bad, (e) => e.event === 'failed');
    bad.start();
    expect(await failedBad).toMatchObject({ code: 'EDGE_TRANSPORT_UNAUTHORIZED' });
    expect(bad.status().state).toBe('unauthorized');
    await bad.close();

    for (const mode of ['server-unavailable', 'reset'] as const) {
      hub.faults.refuseConnections({ mode });
      const s = new ConnectionSupervisor(supervisorOptions(dev.connectionString, hub.caPem));
      cleanups.push(() => s.close());
      const third = new Promise<ConnectionEvent[]>((resolve) => {
        const seen: ConnectionEvent[] = [];
        s.events.on('history', (e) => {
          if (e.event === 'failed') seen.push(e);
          if (seen.length === 3) resolve(seen);
        });
      });
      s.start();
      const failures = await third;
      for (const f of failures) expect(f, mode).toMatchObject({ code: 'EDGE_TRANSPORT_UNAVAILABLE' });
      expect(s.status().state).not.toBe('unauthorized');
      hub.faults.acceptConnections();
      await s.connect();
      expect(s.status().state).toBe('connected');
      await s.close();
    }
  });
});
