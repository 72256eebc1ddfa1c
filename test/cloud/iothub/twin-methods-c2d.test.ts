import { afterEach, describe, expect, it } from 'vitest';
import type { Client, Message } from 'azure-iot-device';
import { ManualClock } from '../../../agent/core/clock.js';
import { TwinPatchError } from '../../../cloud/iothub/index.js';
import { closeQuietly, connectDevice, rawDevice, startHub, waitFor, type RawDevice } from './helpers.js';

type Hub = Awaited<ReturnType<typeof startHub>>;
let env: Hub | undefined;
const clients: Client[] = [];
const raws: RawDevice[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) await closeQuietly(c);
  for (const r of raws.splice(0)) await r.end();
  await env?.close();
  env = undefined;
});

async function device(id: string): Promise<Client> {
  const c = await connectDevice(env!.hub, id);
  clients.push(c);
  return c;
}

function updateReported(twin: Awaited<ReturnType<Client['getTwin']>>, patch: Record<string, unknown>): Promise<void> {
  return new Promise((resolve, reject) => twin.properties.reported.update(patch, (err?: Error) => (err ? reject(err) : resolve())));
}

describe('device twin', () => {
  it('GET returns desired and reported with $version; reported PATCH bumps the version', async () => {
    env = await startHub();
    const { hub } = env;
    await hub.registerDevice('dev-t');
    await hub.updateDesired('dev-t', { interval: 5 });
    const client = await device('dev-t');
    const twin = await client.getTwin();
    expect(twin.properties.desired).toMatchObject({ interval: 5, $version: 2 });
    expect(twin.properties.reported.$version).toBe(1);

    await updateReported(twin, { firmware: '1.2.3', cfg: { applied: 2 } });
    expect(hub.getTwin('dev-t').reported).toEqual({ firmware: '1.2.3', cfg: { applied: 2 }, $version: 2 });
    await updateReported(twin, { cfg: null });
    expect(hub.getTwin('dev-t').reported).toEqual({ firmware: '1.2.3', $version: 3 });
  });

  it('pushes a desired patch (with $version) to the device; null deletes', async () => {
    env = await startHub();
    const { hub } = env;
    const client = await device('dev-d');
    const twin = await client.getTwin();
    const patches: Array<Record<string, unknown>> = [];
    const got = new Promise<void>((resolve) =>
      twin.on('properties.desired', (delta: Record<string, unknown>) => {
        patches.push(delta);
        if (patches.length === 3) resolve();
      }),
    );
    // The SDK fires once for the GET it already did; then once per pushed patch.
    expect((await hub.updateDesired('dev-d', { rate: 10, mode: 'fast' })).pushed).toBe(true);
    await hub.updateDesired('dev-d', { mode: null });
    await got;
    expect(patches[1]).toEqual({ rate: 10, mode: 'fast', $version: 2 });
    expect(patches[2]).toEqual({ mode: null, $version: 3 });
    expect(hub.getTwin('dev-d').desired).toEqual({ rate: 10, $version: 3 });
  });

  it('refuses a reported patch nested deeper than 10 levels or over 32 KB with 400, which the SDK reports', async () => {
    env = await startHub();
    const client = await device('dev-big');
    const twin = await client.getTwin();
    let deep: Record<string, unknown> = { leaf: 1 };
    for (let i = 0; i < 10; i++) deep = { [`l${i}`]: deep };
    await expect(updateReported(twin, deep)).rejects.toThrow(/deeper than 10/);
    await expect(updateReported(twin, { blob: 'x'.repeat(33 * 1024) })).rejects.toThrow(/limit is 32768/);
    expect(env.hub.getTwin('dev-big').reported.$version).toBe(1);
    await expect(env.hub.updateDesired('dev-big', deep)).rejects.toBeInstanceOf(TwinPatchError);
  });

  it('twin state survives a restart of the emulator', async () => {
    env = await startHub();
    const { hub, dir } = env;
    await hub.registerDevice('dev-p');
    await hub.updateDesired('dev-p', { a: 1 });
    await hub.stop();
    const { IotHubEmulator } = await import('../../../cloud/iothub/index.js');
    const again = await IotHubEmulator.start({ dataDir: dir });
    try {
      expect(again.getTwin('dev-p').desired).toEqual({ a: 1, $version: 2 });
    } finally {
      await again.stop();
    }
  });

  it('sends twin responses only to the device that asked, although both subscribe to $iothub/twin/res/#', async () => {
    env = await startHub();
    const { hub } = env;
    const spy = await rawDevice(hub, 'dev-spy');
    raws.push(spy);
    await spy.subscribe('$iothub/twin/res/#');
    await spy.subscribe('$iothub/methods/POST/#');
    await hub.updateDesired('dev-spy', { mine: true });
    const client = await device('dev-asker');
    const twin = await client.getTwin();
    await updateReported(twin, { x: 1 });
    // The spy's own request proves its subscription works: exactly its own response arrives.
    await spy.publish('$iothub/twin/GET/?$rid=spy-1', '');
    await waitFor(() => spy.received.length >= 1);
    expect(spy.received).toHaveLength(1);
    expect(spy.received[0]!.topic).toBe('$iothub/twin/res/200/?$rid=spy-1');
    expect(JSON.parse(spy.received[0]!.payload).desired).toEqual({ mine: true, $version: 2 });
    expect(twin.properties.desired.mine).toBeUndefined();
  });

  it('refuses subscriptions to another device\'s topics and drops a device publishing to them', async () => {
    env = await startHub();
    const { hub } = env;
    const spy = await rawDevice(hub, 'dev-nosy');
    raws.push(spy);
    await expect(spy.subscribe('devices/other/messages/devicebound/#')).rejects.toThrow(/refused/);
    await expect(spy.subscribe('#')).rejects.toThrow(/refused/);
    const gone = new Promise((resolve) => spy.mqtt.once('close', resolve));
    spy.mqtt.publish('devices/other/messages/events/', 'forged', { qos: 1 });
    await gone;
    expect(hub.messageCount()).toBe(0);
  });
});


describe('direct methods', () => {
  it('round-trips a call and its answer', async () => {
    env = await startHub();
    const client = await device('dev-m');
    client.onDeviceMethod('resend', (req, res) => {
      void res.send(200, { echoed: req.payload, name: req.methodName });
    });
    // onDeviceMethod subscribes asynchronously; until then the hub answers 404, as IoT Hub does.
    await waitFor(() => env!.hub.subscriptions('dev-m').methods);
    const result = await env.hub.invokeMethod('dev-m', 'resend', { from: 3, to: 9 }, { responseTimeoutMs: 5000 });
    expect(result).toEqual({ status: 200, payload: { echoed: { from: 3, to: 9 }, name: 'resend' } });
  });

  it('fails at once with EDGE_HUB_DEVICE_OFFLINE for a device that is not connected', async () => {
    env = await startHub();
    await env.hub.registerDevice('dev-off');
    await expect(env.hub.invokeMethod('dev-off', 'ping', {})).rejects.toMatchObject({ code: 'EDGE_HUB_DEVICE_OFFLINE' });
    await expect(env.hub.invokeMethod('dev-nobody', 'ping', {})).rejects.toMatchObject({ code: 'EDGE_HUB_DEVICE_UNKNOWN' });
  });

  it('times out with EDGE_HUB_METHOD_TIMEOUT (injected clock) when the device does not answer', async () => {
    const clock = new ManualClock(Date.now());
    env = await startHub({ clock });
    const client = await device('dev-slow');
    let called!: () => void;
    const reached = new Promise<void>((r) => (called = r));
    client.onDeviceMethod('slow', () => called()); // never answers
    await waitFor(() => env!.hub.subscriptions('dev-slow').methods);
    const pending = { p: env.hub.invokeMethod('dev-slow', 'slow', null, { responseTimeoutMs: 10_000 }) };
    pending.p.catch(() => undefined);
    await reached;
    clock.advance(10_000);
    await expect(pending.p).rejects.toMatchObject({ code: 'EDGE_HUB_METHOD_TIMEOUT' });
  });

  it('delivers a method call only to its device and takes the answer only from it', async () => {
    env = await startHub();
    const { hub } = env;
    const spy = await rawDevice(hub, 'dev-m-spy');
    raws.push(spy);
    await spy.subscribe('$iothub/methods/POST/#');
    const client = await device('dev-m-target');
    client.onDeviceMethod('hello', (_req, res) => void res.send(201, 'hi'));
    await waitFor(() => hub.subscriptions('dev-m-target').methods);
    const result = await hub.invokeMethod('dev-m-target', 'hello', 1, { responseTimeoutMs: 5000 });
    expect(result).toEqual({ status: 201, payload: 'hi' });
    expect(spy.received).toEqual([]);
    // And the spy, which does receive its own calls, cannot answer the target's.
    const call = hub.invokeMethod('dev-m-spy', 'who', null, { responseTimeoutMs: 5000 });
    await waitFor(() => spy.received.length === 1);
    const rid = /\$rid=([^&]+)/.exec(spy.received[0]!.topic)![1]!;
    expect(spy.received[0]!.topic).toBe(`$iothub/methods/POST/who/?$rid=${rid}`);
    await spy.publish(`$iothub/methods/res/200/?$rid=${rid}`, '{"me":"spy"}');
    expect(await call).toEqual({ status: 200, payload: { me: 'spy' } });
  });
});

describe('cloud-to-device messages', () => {
  it('delivers to the device with properties, and queues while it is offline', async () => {
    env = await startHub();
    const { hub } = env;
    await hub.registerDevice('dev-c');
    expect((await hub.sendC2D('dev-c', 'early', { messageId: 'c-0' })).delivered).toBe(false);
    const client = await device('dev-c');
    const received: Message[] = [];
    const two = new Promise<void>((resolve) =>
      client.on('message', (m: Message) => {
        received.push(m);
        void client.complete(m);
        if (received.length === 2) resolve();
      }),
    );
    await waitFor(() => hub.subscriptions('dev-c').c2d);
    const later = await hub.sendC2D('dev-c', Buffer.from('later'), { messageId: 'c-1', correlationId: 'k', properties: { cmd: 'resend', 'a b': 'ü' } });
    expect(later.delivered).toBe(true);
    await two;
    expect(received.map((m) => m.getData().toString())).toEqual(['early', 'later']);
    expect(received[1]!.messageId).toBe('c-1');
    expect(received[1]!.correlationId).toBe('k');
    expect(received[1]!.properties.getValue('cmd')).toBe('resend');
    expect(received[1]!.properties.getValue('a b')).toBe('ü');
  });
});

