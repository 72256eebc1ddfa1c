import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventHubProducerClient } from '@azure/event-hubs';
import type { Client } from 'azure-iot-device';
import { HubServiceClient, IotHubEmulator, MessageLog, openMessageLogReader } from '../../../cloud/iothub/index.js';
import { connectSdkDevice, sendTelemetry } from './support/sdk-device.js';
import { MessageLogSource } from '../../../cloud/reconciler/sources/message-log-source.js';
import { EventHubsSource } from '../../../cloud/reconciler/sources/event-hubs-source.js';
import { sourceConformance, type SourceFactory } from './source-conformance.js';
import type { Telemetry } from './support/wire-builder.js';

/** The emulator's log, written by its MessageLog and read in the same process. */
const inProcessLog: SourceFactory = {
  name: 'emulator message log (in process)',
  setupTimeoutMs: 10_000,
  async create() {
    const dir = await mkdtemp(join(tmpdir(), 'reconciler-src-'));
    const log = await MessageLog.open(dir, { partitionCount: 4 });
    return {
      source: new MessageLogSource(log),
      publish: async (messages: Telemetry[]) => {
        for (const m of messages) await log.append(m);
      },
      readable: async () => undefined,
      close: async () => {
        await log.close();
        await rm(dir, { recursive: true, force: true });
      },
    };
  },
};

/** The same log read from its data dir by a separate reader, as `cloud run --hub-data-dir` does. */
const dataDirLog: SourceFactory = {
  name: 'emulator message log (read from its data dir)',
  setupTimeoutMs: 10_000,
  async create() {
    const dir = await mkdtemp(join(tmpdir(), 'reconciler-src-'));
    const log = await MessageLog.open(dir, { partitionCount: 3 });
    const reader = await openMessageLogReader(dir);
    return {
      source: new MessageLogSource(reader),
      publish: async (messages: Telemetry[]) => {
        for (const m of messages) await log.append(m);
      },
      readable: async () => undefined,
      close: async () => {
        await reader.close();
        await log.close();
        await rm(dir, { recursive: true, force: true });
      },
    };
  },
};

/**
 * A running emulator: devices publish over MQTT with the real SDK, the reconciler reads the log
 * through the emulator's HTTP service API from "another process" (HubServiceClient).
 */
const emulatorService: SourceFactory = {
  name: 'emulator (SDK devices over MQTT, read through its HTTP service API)',
  setupTimeoutMs: 30_000,
  async create() {
    const dir = await mkdtemp(join(tmpdir(), 'reconciler-src-'));
    const hub = await IotHubEmulator.start({ dataDir: dir, servicePort: 0 });
    const service = new HubServiceClient(`http://127.0.0.1:${hub.servicePort}`);
    await service.connect();
    const clients = new Map<string, Client>();
    return {
      source: new MessageLogSource(service),
      publish: async (messages: Telemetry[]) => {
        for (const m of messages) {
          let client = clients.get(m.deviceId);
          if (!client) clients.set(m.deviceId, (client = await connectSdkDevice(hub, m.deviceId)));
          await sendTelemetry(client, m);
        }
      },
      readable: async () => undefined,
      close: async () => {
        for (const c of clients.values()) await c.close().catch(() => undefined);
        await hub.stop();
        await rm(dir, { recursive: true, force: true });
      },
    };
  },
};

/**
 * The emulator's AMQP Event Hub-compatible endpoint: SDK devices publish over MQTT, the
 * EventHubsSource reads with the real EventHubConsumerClient over AMQP, as against IoT Hub.
 */
const emulatorAmqp: SourceFactory = {
  name: 'emulator Event Hub-compatible endpoint (EventHubConsumerClient over AMQP)',
  setupTimeoutMs: 30_000,
  async create() {
    const dir = await mkdtemp(join(tmpdir(), 'reconciler-src-'));
    const hub = await IotHubEmulator.start({ dataDir: dir, amqpPort: 0 });
    const source = new EventHubsSource({ connectionString: hub.eventHubsConnectionString()! });
    const clients = new Map<string, Client>();
    return {
      source,
      publish: async (messages: Telemetry[]) => {
        for (const m of messages) {
          let client = clients.get(m.deviceId);
          if (!client) clients.set(m.deviceId, (client = await connectSdkDevice(hub, m.deviceId)));
          await sendTelemetry(client, m);
        }
      },
      readable: async (count: number) => {
        while (source.buffered() < count) await source.arrived.wait();
      },
      close: async () => {
        for (const c of clients.values()) await c.close().catch(() => undefined);
        await source.close();
        await hub.stop();
        await rm(dir, { recursive: true, force: true });
      },
    };
  },
};

/**
 * IoT Hub's Event Hub-compatible endpoint needs a real Event Hubs namespace. Given
 * EDGE_RECONCILER_EVENTHUBS (a connection string with EntityPath, to a hub this test may write
 * to), the same suite runs against it; publishing uses a producer with the device id as
 * partition key (a plain Event Hub has no IoT Hub system properties, hence the property).
 */
function eventHubs(connectionString: string): SourceFactory {
  return {
    name: 'Event Hubs (EDGE_RECONCILER_EVENTHUBS)',
    setupTimeoutMs: 120_000,
    async create() {
      const producer = new EventHubProducerClient(connectionString);
      const source = new EventHubsSource({ connectionString, consumerGroup: process.env.EDGE_RECONCILER_EVENTHUBS_GROUP ?? '$Default' });
      return {
        source,
        readable: async (count: number) => {
          while (source.buffered() < count) await source.arrived.wait();
        },
        publish: async (messages: Telemetry[]) => {
          for (const m of messages) {
            await producer.sendBatch(
              [
                {
                  body: m.body,
                  bodyType: 'data',
                  // contentEncoding is an AMQP message property, as IoT Hub sets it.
                  properties: { contentEncoding: m.systemProperties['content-encoding'] },
                  applicationProperties: { ...m.properties, 'iothub-connection-device-id': m.deviceId },
                },
              ],
              { partitionKey: m.deviceId },
            );
          }
        },
        close: () => producer.close(),
      };
    },
  };
}

// The sources that can run here, explicitly. Azure Event Hubs joins only when a namespace is given:
// no Azure on these machines, and a skipped test would claim coverage we do not have.
const sources: SourceFactory[] = [inProcessLog, dataDirLog, emulatorService, emulatorAmqp];
if (process.env.EDGE_RECONCILER_EVENTHUBS) sources.push(eventHubs(process.env.EDGE_RECONCILER_EVENTHUBS));

for (const factory of sources) sourceConformance(factory);
