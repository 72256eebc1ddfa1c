import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EventEmitter } from 'node:events';
import deviceSdk, { type Client } from 'azure-iot-device';
import mqttSdk from 'azure-iot-device-mqtt';
import { IotHubEmulator, type EmulatorOptions } from '../../../cloud/iothub/index.js';

/** A temp data dir removed by the returned cleanup. */
export async function tempDir(prefix = 'iothub-'): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Starts an emulator in a fresh temp dir; `close` stops it and removes the dir. */
export async function startHub(options: Partial<EmulatorOptions> = {}): Promise<{ hub: IotHubEmulator; dir: string; close: () => Promise<void> }> {
  const { dir, cleanup } = await tempDir();
  const hub = await IotHubEmulator.start({ dataDir: dir, ...options });
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
