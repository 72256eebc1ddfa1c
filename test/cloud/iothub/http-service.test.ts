import { afterEach, describe, expect, it } from 'vitest';
import deviceSdk, { type Client } from 'azure-iot-device';
import { HubServiceClient, partitionFor } from '../../../cloud/iothub/index.js';
import { closeQuietly, deviceClient, nextEvent, startHub, waitFor } from './helpers.js';

type Hub = Awaited<ReturnType<typeof startHub>>;
let env: Hub | undefined;
const clients: Client[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) await closeQuietly(c);
  await env?.close();
  env = undefined;
});

describe('HTTP service API (another process\'s view)', () => {
  it('registers, lists, reads the log, sets desired, invokes methods and injects faults', async () => {
    env = await startHub({ servicePort: 0 });
    const api = new HubServiceClient(`http://127.0.0.1:${env.hub.servicePort}`);
    expect(await api.connect()).toEqual({ hostName: env.hub.hostName, port: env.hub.port, partitionCount: 4 });
    expect(await api.caPem()).toBe(env.hub.caPem);

    const dev = await api.registerDevice('dev-h');
    expect(dev.connectionString).toBe(`HostName=${env.hub.hostName};DeviceId=dev-h;SharedAccessKey=${dev.primaryKey}`);
    const client = await deviceClient(dev.connectionString, await api.caPem());
    clients.push(client);
    await client.open();
    expect(await api.listDevices()).toMatchObject([{ deviceId: 'dev-h', connected: true }]);

    const m = new deviceSdk.Message(Buffer.from([0, 1, 2, 255]));
    m.properties.add('k', 'v');
    await client.sendEvent(m);
    const p = partitionFor('dev-h', 4);
    expect(await api.endOf(p)).toBe(1);
    const [e] = await api.read(p, 0, 10);
    expect(e).toMatchObject({ deviceId: 'dev-h', sequenceNumber: 0, properties: { k: 'v' } });
    expect(e!.body).toEqual(Buffer.from([0, 1, 2, 255]));

    const twin = await client.getTwin();
    const desired = new Promise((resolve) => twin.on('properties.desired', (d: { $version: number }) => d.$version === 2 && resolve(d)));
    expect(await api.updateDesired('dev-h', { rate: 3 })).toEqual({ version: 2, pushed: true });
    await desired;
    expect((await api.getTwin('dev-h')).desired).toEqual({ rate: 3, $version: 2 });

    await expect(api.invokeMethod('dev-h', 'nope', {}, { responseTimeoutMs: 1000 })).rejects.toMatchObject({ code: 'EDGE_HUB_DEVICE_OFFLINE' });
    await expect(api.getTwin('ghost')).rejects.toMatchObject({ code: 'EDGE_HUB_DEVICE_UNKNOWN' });
    client.onDeviceMethod('echo', (req, res) => void res.send(200, req.payload));
    await waitFor(() => env!.hub.subscriptions('dev-h').methods);
    expect(await api.invokeMethod('dev-h', 'echo', { a: [1] })).toEqual({ status: 200, payload: { a: [1] } });

    const dropped = nextEvent(env.hub, 'disconnected');
    expect(await api.dropConnection('dev-h')).toBe(true);
    await dropped;
    await api.holdAcks('dev-h');
    expect((await api.faultStatus()).holdingAcksFor).toEqual(['dev-h']);
    await api.refuseConnections({ durationMs: 1000, mode: 'server-unavailable' });
    expect((await api.clearFaults()).refusing).toBeNull();
  });

  it('reports an unreachable service clearly', async () => {
    const api = new HubServiceClient('http://127.0.0.1:1');
    await expect(api.listDevices()).rejects.toMatchObject({ code: 'EDGE_TRANSPORT_UNAVAILABLE', message: expect.stringContaining('127.0.0.1:1') });
  });
});
