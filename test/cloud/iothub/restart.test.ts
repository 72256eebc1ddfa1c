import { afterEach, describe, expect, it } from 'vitest';
import deviceSdk, { type Client } from 'azure-iot-device';
import { IotHubEmulator, partitionFor } from '../../../cloud/iothub/index.js';
import { closeQuietly, connectDevice, nextEvent, tempDir, waitFor } from './helpers.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('emulator restart', () => {
  it('keeps the message log, registry, twins and MQTT sessions: the same SDK client carries on', async () => {
    const { dir, cleanup } = await tempDir('hub-restart-');
    cleanups.push(cleanup);
    const first = await IotHubEmulator.start({ dataDir: dir });
    let current = first;
    cleanups.push(() => current.stop());
    const client: Client = await connectDevice(first, 'dev-r');
    cleanups.push(() => closeQuietly(client));
    client.onDeviceMethod('where', (_req, res) => void res.send(200, 'here'));
    await waitFor(() => first.subscriptions('dev-r').methods);
    for (const body of ['a', 'b']) await client.sendEvent(new deviceSdk.Message(body));
    await first.updateDesired('dev-r', { k: 1 });
    const caPem = first.caPem;
    const port = first.port;
    await first.stop();

    const second = await IotHubEmulator.start({ dataDir: dir, port });
    current = second;
    expect(second.caPem).toBe(caPem); // same CA: devices keep trusting it
    expect(second.getTwin('dev-r').desired).toEqual({ k: 1, $version: 2 });
    // The SDK reconnects by itself (it has a method handler); its session is in force again.
    await nextEvent(second, 'connected', (id) => id === 'dev-r');
    await waitFor(() => second.subscriptions('dev-r').methods);
    expect(await second.invokeMethod('dev-r', 'where', null, { responseTimeoutMs: 5000 })).toEqual({ status: 200, payload: 'here' });
    await client.sendEvent(new deviceSdk.Message('c'));
    const p = partitionFor('dev-r', second.messageLog.partitionCount);
    const events = await second.messageLog.read(p, 0, 10);
    expect(events.map((e) => [e.sequenceNumber, e.body.toString()])).toEqual([
      [0, 'a'],
      [1, 'b'],
      [2, 'c'],
    ]);
  });

  it('refuses a second emulator on the same data dir', async () => {
    const { dir, cleanup } = await tempDir('hub-restart-');
    cleanups.push(cleanup);
    const hub = await IotHubEmulator.start({ dataDir: dir });
    cleanups.push(() => hub.stop());
    await expect(IotHubEmulator.start({ dataDir: dir })).rejects.toMatchObject({ code: 'EDGE_STORE_LOCKED' });
  });
});
