import { afterEach, describe, expect, it } from 'vitest';
import deviceSdk from 'azure-iot-device';
import commonSdk from 'azure-iot-common';
import { ManualClock } from '../../../agent/core/clock.js';
import { partitionFor } from '../../../cloud/iothub/index.js';
import type { HubEvent } from '../../../cloud/iothub/index.js';
import { closeQuietly, connectDevice, deviceClient, nextEvent, rawDevice, startHub } from './helpers.js';

const { Message } = deviceSdk;

type Hub = Awaited<ReturnType<typeof startHub>>;
let env: Hub | undefined;
const clients: Array<{ close(): Promise<unknown> }> = [];

afterEach(async () => {
  for (const c of clients.splice(0)) await closeQuietly(c as never);
  await env?.close();
  env = undefined;
});

describe('CONNECT with a SAS token', () => {
  it('accepts a registered device and stores its telemetry, with properties, before the PUBACK', async () => {
    env = await startHub();
    const { hub } = env;
    const client = await connectDevice(hub, 'dev-1');
    clients.push(client);
    expect(hub.isConnected('dev-1')).toBe(true);

    const msg = new Message(JSON.stringify({ v: 1, records: [] }));
    msg.messageId = 'msg-42';
    msg.correlationId = 'corr-7';
    msg.contentType = 'application/json';
    msg.contentEncoding = 'utf-8';
    msg.properties.add('seqFrom', '10');
    msg.properties.add('kind', 'reading & result/ü');
    await client.sendEvent(msg);

    // The PUBACK came back, so the message must already be readable from the log.
    const partition = partitionFor('dev-1', hub.messageLog.partitionCount);
    expect(await hub.messageLog.endOf(partition)).toBe(1);
    const [event] = await hub.messageLog.read(partition, 0, 10);
    expect(event).toMatchObject({
      partition,
      sequenceNumber: 0,
      offset: 0,
      deviceId: 'dev-1',
      properties: { seqFrom: '10', kind: 'reading & result/ü' },
      systemProperties: {
        'message-id': 'msg-42',
        'correlation-id': 'corr-7',
        'content-type': 'application/json',
        'content-encoding': 'utf-8',
        'iothub-connection-device-id': 'dev-1',
        'iothub-message-source': 'Telemetry',
      },
    });
    expect(event!.body.toString()).toBe('{"v":1,"records":[]}');
    expect(new Date(event!.systemProperties['iothub-enqueuedtime']!).getTime()).toBe(event!.enqueuedTime);
  });

  it('keeps a device in one partition with dense sequence numbers and growing offsets', async () => {
    env = await startHub();
    const { hub } = env;
    const client = await connectDevice(hub, 'dev-seq');
    clients.push(client);
    await Promise.all(Array.from({ length: 20 }, (_, i) => client.sendEvent(new Message(`m${i}`))));
    const partition = partitionFor('dev-seq', 4);
    const events = await hub.messageLog.read(partition, 0, 100);
    expect(events.map((e: HubEvent) => e.sequenceNumber)).toEqual([...Array(20).keys()]);
    expect(events.map((e: HubEvent) => e.body.toString())).toEqual(Array.from({ length: 20 }, (_, i) => `m${i}`));
    for (let i = 1; i < events.length; i++) expect(events[i]!.offset).toBeGreaterThan(events[i - 1]!.offset);
    expect(await hub.messageLog.read(partition, 5, 2)).toHaveLength(2);
    expect(await hub.messageLog.read(partition, 20, 5)).toEqual([]);
  });

  it('refuses a wrong key with "not authorized" (the SDK reports UnauthorizedError)', async () => {
    env = await startHub();
    const { hub } = env;
    const { connectionString } = await hub.registerDevice('dev-bad');
    const refused = nextEvent<[string, string]>(hub, 'refused');
    const wrong = connectionString.replace(/SharedAccessKey=.*$/, `SharedAccessKey=${Buffer.alloc(32, 7).toString('base64')}`);
    const client = await deviceClient(wrong, hub.caPem);
    clients.push(client);
    const err = await client.open().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(commonSdk.errors.UnauthorizedError);
    expect(String((err as Error).message)).toMatch(/Not authorized/i);
    expect(await refused).toEqual(['dev-bad', 'SAS token bad-signature']);
    expect(hub.isConnected('dev-bad')).toBe(false);
  });

  it('refuses an unknown device', async () => {
    env = await startHub();
    const { hub } = env;
    const { connectionString } = await hub.registerDevice('dev-known');
    const client = await deviceClient(connectionString.replace('DeviceId=dev-known', 'DeviceId=dev-ghost'), hub.caPem);
    clients.push(client);
    await expect(client.open()).rejects.toBeInstanceOf(commonSdk.errors.UnauthorizedError);
  });

  it('refuses an expired token, judged by the injected clock', async () => {
    // The SDK signs tokens valid for one hour of real time; the hub's clock is two hours ahead.
    const clock = new ManualClock(Date.now() + 2 * 3600_000);
    env = await startHub({ clock });
    const { hub } = env;
    const { connectionString } = await hub.registerDevice('dev-late');
    const refused = nextEvent<[string, string]>(hub, 'refused');
    const client = await deviceClient(connectionString, hub.caPem);
    clients.push(client);
    await expect(client.open()).rejects.toBeInstanceOf(commonSdk.errors.UnauthorizedError);
    expect((await refused)[1]).toBe('SAS token expired');
  });

  it('drops a connection when its token expires (hub clock), as IoT Hub does', async () => {
    const clock = new ManualClock(Date.now());
    env = await startHub({ clock });
    const { hub } = env;
    const client = await connectDevice(hub, 'dev-exp');
    clients.push(client);
    const gone = nextEvent<[string]>(hub, 'disconnected');
    clock.advance(3601_000);
    expect(await gone).toEqual(['dev-exp']);
  });
});

describe('what IoT Hub refuses on the telemetry topic', () => {
  it('stores QoS 0 telemetry without an ack; closes the connection on QoS 2 and on > 256 KB, storing nothing', async () => {
    env = await startHub();
    const { hub } = env;
    const raw = await rawDevice(hub, 'dev-raw');
    const stored = nextEvent<[HubEvent]>(hub, 'telemetry');
    raw.mqtt.publish('devices/dev-raw/messages/events/%24.mid=q0&x=1', 'qos0', { qos: 0 });
    const [e] = await stored;
    expect(e).toMatchObject({ deviceId: 'dev-raw', properties: { x: '1' }, systemProperties: { 'message-id': 'q0' } });

    const closed = new Promise((resolve) => raw.mqtt.once('close', resolve));
    raw.mqtt.publish('devices/dev-raw/messages/events/', 'qos2', { qos: 2 });
    await closed;
    await raw.end();

    const big = await rawDevice(hub, 'dev-raw');
    const closedBig = new Promise((resolve) => big.mqtt.once('close', resolve));
    big.mqtt.publish('devices/dev-raw/messages/events/', Buffer.alloc(256 * 1024 + 1), { qos: 1 });
    await closedBig;
    await big.end();
    expect(hub.messageCount()).toBe(1);
  });

  it('accepts exactly 256 KB', async () => {
    env = await startHub();
    const client = await connectDevice(env.hub, 'dev-256');
    clients.push(client);
    await client.sendEvent(new Message(Buffer.alloc(256 * 1024, 1)));
    expect(env.hub.messageCount()).toBe(1);
  });
});
