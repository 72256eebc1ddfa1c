import { afterEach, describe, expect, it } from 'vitest';
import deviceSdk, { type Client } from 'azure-iot-device';
import { ManualClock } from '../../../agent/core/clock.js';
import type { HubEvent } from '../../../cloud/iothub/index.js';
import { closeQuietly, connectDevice, deviceClient, nextEvent, startHub, waitFor } from './helpers.js';

const { Message } = deviceSdk;

type Hub = Awaited<ReturnType<typeof startHub>>;
let env: Hub | undefined;
const clients: Client[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) await closeQuietly(c);
  await env?.close();
  env = undefined;
});

async function device(id: string, keepalive?: number): Promise<Client> {
  const c = await connectDevice(env!.hub, id, keepalive);
  clients.push(c);
  return c;
}

describe('fault injection, seen from the SDK', () => {
  it('drop: the device sees its connection close and, as the SDK does, reconnects by itself', async () => {
    env = await startHub();
    const client = await device('dev-drop');
    // With a feature enabled (methods), the SDK re-establishes the link after a drop.
    client.onDeviceMethod('noop', (_req, res) => void res.send(200));
    await waitFor(() => env!.hub.subscriptions('dev-drop').methods);
    const reconnected = new Promise((resolve) => client.once('connect', resolve));
    const hubSide = nextEvent(env.hub, 'disconnected');
    expect(env.hub.faults.dropConnection('dev-drop')).toBe(true);
    await hubSide;
    await reconnected;
    await waitFor(() => env!.hub.subscriptions('dev-drop').methods);
    expect(await env.hub.invokeMethod('dev-drop', 'noop', null, { responseTimeoutMs: 5000 })).toMatchObject({ status: 200 });
    expect(env.hub.faults.dropConnection('dev-nobody')).toBe(false);
  });

  it('refuse (reset) until cleared: the TLS link is cut before CONNECT, then connecting works again', async () => {
    env = await startHub();
    const { connectionString } = await env.hub.registerDevice('dev-ref');
    env.hub.faults.refuseConnections();
    const first = await deviceClient(connectionString, env.hub.caPem);
    clients.push(first);
    const err = await first.open().then(
      () => undefined,
      (e: unknown) => e as Error & { transportError?: Error },
    );
    // The SDK labels every failed first CONNECT "(Not authorized)"; the cause tells the truth.
    expect(err).toBeInstanceOf(Error);
    expect(String(err!.transportError?.message ?? err!.message)).toMatch(/ECONNRESET|socket hang up|disconnected before secure TLS/);
    expect(env.hub.isConnected('dev-ref')).toBe(false);
    env.hub.faults.acceptConnections();
    const second = await deviceClient(connectionString, env.hub.caPem);
    clients.push(second);
    await second.open();
    expect(env.hub.isConnected('dev-ref')).toBe(true);
  });

  it('refuse (server unavailable) for a duration by the hub clock: the SDK retries and gets in afterwards', async () => {
    const clock = new ManualClock(Date.now());
    env = await startHub({ clock });
    const { connectionString } = await env.hub.registerDevice('dev-busy');
    env.hub.faults.refuseConnections({ durationMs: 60_000, mode: 'server-unavailable' });
    const refusals: string[] = [];
    const twice = new Promise<void>((resolve) =>
      env!.hub.on('refused', (_id, reason) => {
        refusals.push(reason);
        if (refusals.length === 2) resolve();
      }),
    );
    const client = await deviceClient(connectionString, env.hub.caPem);
    clients.push(client);
    // ServiceUnavailableError is retryable: the SDK backs off and tries again.
    const opening = client.open();
    await twice;
    expect(refusals).toEqual(['fault: refusing connections', 'fault: refusing connections']);
    clock.advance(60_000);
    await opening;
    expect(env.hub.isConnected('dev-busy')).toBe(true);
    expect(env.hub.faults.status().refusing).toBeNull();
  });

  it('hold PUBACKs: the message is stored, the SDK waits until the acks are released', async () => {
    env = await startHub();
    const client = await device('dev-hold');
    env.hub.faults.holdAcks('dev-hold');
    const stored = nextEvent<[HubEvent]>(env.hub, 'telemetry');
    let acked = false;
    const m = new Message('held');
    m.messageId = 'h-1';
    const sending = client.sendEvent(m).then(() => (acked = true));
    const [event] = await stored;
    expect(event.systemProperties['message-id']).toBe('h-1');
    // A full round trip on the same connection after the store: the ack really is being held.
    await client.getTwin();
    expect(acked).toBe(false);
    expect(env.hub.faults.heldAckCount('dev-hold')).toBe(1);
    expect(env.hub.faults.releaseAcks('dev-hold')).toBe(1);
    await sending;
    expect(acked).toBe(true);
  });

  it('ack lost: a held ack discarded, the link dropped, and the SDK\'s resend is stored a second time', async () => {
    env = await startHub();
    const client = await device('dev-lost');
    env.hub.faults.holdAcks('dev-lost');
    const m = new Message('once');
    m.messageId = 'dup-1';
    const firstStore = nextEvent<[HubEvent]>(env.hub, 'telemetry');
    const sending = client.sendEvent(m);
    await firstStore;
    expect(env.hub.faults.releaseAcks('dev-lost', { deliver: false })).toBe(1);
    const resend = nextEvent<[HubEvent]>(env.hub, 'telemetry', (e) => e.systemProperties['message-id'] === 'dup-1');
    env.hub.faults.dropConnection('dev-lost');
    await resend;
    await sending;
    const all = await env.hub.messageLog.read((await resend)[0].partition, 0, 10);
    expect(all.filter((e) => e.systemProperties['message-id'] === 'dup-1')).toHaveLength(2);
  });

  it('silent (half-open): nothing gets through, the hub drops it after 1.5× keep-alive, the SDK reconnects on its own', async () => {
    env = await startHub();
    const client = await device('dev-silent', 1);
    client.onDeviceMethod('noop', (_req, res) => void res.send(200));
    await waitFor(() => env!.hub.subscriptions('dev-silent').methods);
    const hubSide = nextEvent(env.hub, 'disconnected');
    const sdkBack = new Promise((resolve) => client.once('connect', resolve));
    expect(env.hub.faults.goSilent('dev-silent')).toBe(true);
    const sent = client.sendEvent(new Message('through the outage'));
    await hubSide;
    expect(env.hub.messageCount()).toBe(0);
    // The SDK found out by its keep-alive (no PINGRESP), reconnected, and delivered its message.
    await sdkBack;
    await sent;
    expect(env.hub.messageCount()).toBeGreaterThanOrEqual(1);
  });
});

