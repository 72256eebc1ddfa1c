import { afterEach, describe, expect, it } from 'vitest';
import deviceSdk, { type Client } from 'azure-iot-device';
import { writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
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

  it('names the data dir when it cannot be used, and the port when it is taken', async () => {
    const { dir, cleanup } = await tempDir('hub-restart-');
    cleanups.push(cleanup);
    const file = join(dir, 'not-a-dir');
    await writeFile(file, 'x');
    await expect(IotHubEmulator.start({ dataDir: join(file, 'hub') })).rejects.toMatchObject({
      code: 'EDGE_DATA_DIR_UNUSABLE',
      message: expect.stringContaining(join(file, 'hub')),
    });
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => blocker.close(() => resolve())));
    const port = (blocker.address() as { port: number }).port;
    await expect(IotHubEmulator.start({ dataDir: join(dir, 'hub'), port })).rejects.toMatchObject({
      code: 'EDGE_PORT_IN_USE',
      message: expect.stringContaining(String(port)),
    });
    // A failed start leaves the data dir free for the next one.
    const hub = await IotHubEmulator.start({ dataDir: join(dir, 'hub') });
    await hub.stop();
  });
});
