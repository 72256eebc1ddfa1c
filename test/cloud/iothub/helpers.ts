import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EventEmitter } from 'node:events';
import deviceSdk, { type Client } from 'azure-iot-device';
import mqttSdk from 'azure-iot-device-mqtt';
import mqtt, { type MqttClient } from 'mqtt';
import { IotHubEmulator, createSasToken, loadTlsMaterial, type EmulatorOptions, type TlsMaterial } from '../../../cloud/iothub/index.js';

/** A temp data dir removed by the returned cleanup. */
export async function tempDir(prefix = 'iothub-'): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** One CA per test file: RSA key generation is the slowest part of a first start. */
let sharedTls: TlsMaterial | undefined;

/** Starts an emulator in a fresh temp dir; `close` stops it and removes the dir. */
export async function startHub(options: Partial<EmulatorOptions> = {}): Promise<{ hub: IotHubEmulator; dir: string; close: () => Promise<void> }> {
  const { dir, cleanup } = await tempDir();
  const tls = sharedTls ? { tls: sharedTls } : {};
  const hub = await IotHubEmulator.start({ dataDir: dir, ...tls, ...options });
  sharedTls ??= await loadTlsMaterial(dir);
  return {
    hub,
    dir,
    close: async () => {
      await hub.stop();
      await cleanup();
    },
  };
}

/**
 * A device SDK client (real azure-iot-device over MQTT/TLS) trusting the hub's CA; not yet opened.
 * `setOptions` must be awaited: the SDK first tries to read `ca` as a file path, asynchronously.
 */
export async function deviceClient(connectionString: string, caPem: string, keepalive?: number): Promise<Client> {
  const client = deviceSdk.Client.fromConnectionString(connectionString, mqttSdk.Mqtt);
  const options: Record<string, unknown> = { ca: caPem };
  if (keepalive !== undefined) options.keepalive = keepalive;
  await client.setOptions(options);
  return client;
}

/** Registers a device and opens an SDK client for it. */
export async function connectDevice(hub: IotHubEmulator, deviceId: string, keepalive?: number): Promise<Client> {
  const { connectionString } = await hub.registerDevice(deviceId);
  const client = await deviceClient(connectionString, hub.caPem, keepalive);
  await client.open();
  return client;
}

/** Resolves with the first event `name` whose args pass `filter`. */
export function nextEvent<T extends unknown[]>(emitter: EventEmitter, name: string, filter: (...args: T) => boolean = () => true): Promise<T> {
  return new Promise((resolve) => {
    const on = (...args: unknown[]): void => {
      if (!filter(...(args as T))) return;
      emitter.removeListener(name, on);
      resolve(args as T);
    };
    emitter.on(name, on);
  });
}

/** Closes an SDK client, ignoring errors from a connection the test already broke. */
export async function closeQuietly(client: Client | undefined): Promise<void> {
  if (!client) return;
  try {
    await client.close();
  } catch {
    // already gone
  }
}

/**
 * A bare MQTT client speaking as a device (same SAS token the SDK would build), recording every
 * message it receives: lets a test see traffic the SDK would silently ignore, such as a twin
 * response meant for another device.
 */
export interface RawDevice {
  mqtt: MqttClient;
  received: Array<{ topic: string; payload: string }>;
  subscribe(filter: string): Promise<void>;
  publish(topic: string, payload: string, qos?: 0 | 1): Promise<void>;
  end(): Promise<void>;
}

export async function rawDevice(hub: IotHubEmulator, deviceId: string): Promise<RawDevice> {
  const { primaryKey } = await hub.registerDevice(deviceId);
  const expiry = Math.floor(hub.clock.now() / 1000) + 3600;
  const password = createSasToken(`${hub.hostName}/devices/${deviceId}`, primaryKey, expiry);
  const client = mqtt.connect(`mqtts://localhost:${hub.port}`, {
    clientId: deviceId,
    username: `${hub.hostName}/${deviceId}/?api-version=2021-04-12`,
    password,
    ca: hub.caPem,
    protocolVersion: 4,
    clean: true,
    reconnectPeriod: 0,
  });
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve());
    client.once('error', reject);
  });
  const received: RawDevice['received'] = [];
  client.on('message', (topic, payload) => received.push({ topic, payload: payload.toString() }));
  return {
    mqtt: client,
    received,
    subscribe: (filter) =>
      new Promise((resolve, reject) =>
        client.subscribe(filter, { qos: 0 }, (err, granted) => {
          if (err) reject(err);
          else if (granted[0]?.qos === 128) reject(new Error(`subscription to ${filter} refused`));
          else resolve();
        }),
      ),
    publish: (topic, payload, qos = 0) => new Promise((resolve, reject) => client.publish(topic, payload, { qos }, (err) => (err ? reject(err) : resolve()))),
    end: () => new Promise((resolve) => client.end(true, {}, () => resolve())),
  };
}

/** Polls a condition on each turn of the event loop (no fixed sleep): for state that has no event. */
export async function waitFor(cond: () => boolean, timeoutMs = 15_000): Promise<void> {
  // Bounded by time, not turns: on a loaded machine one socket round trip takes many turns.
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (cond()) return;
    await new Promise((r) => setImmediate(r));
  }
  throw new Error('condition not met');
}
