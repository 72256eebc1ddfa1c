import deviceSdk, { type Client } from 'azure-iot-device';
import mqttSdk from 'azure-iot-device-mqtt';
import type { DeviceSubscriptions, IotHubEmulator } from '../../../../cloud/iothub/index.js';
import type { WireMessage } from '../../../../agent/core/wire.js';
import { mergeRanges, type AgentState } from './scenario.js';
import { packMessage, toTelemetry, type Telemetry } from './wire-builder.js';

/**
 * A device as the agent will be one: the real azure-iot-device SDK over MQTT/TLS to the
 * emulator, sending wire-format messages with their properties, and answering `resend`.
 */
export async function connectSdkDevice(hub: IotHubEmulator, deviceId: string): Promise<Client> {
  const { connectionString } = await hub.registerDevice(deviceId);
  const client = deviceSdk.Client.fromConnectionString(connectionString, mqttSdk.Mqtt);
  await client.setOptions({ ca: hub.caPem });
  await client.open();
  return client;
}

/**
 * Resolves once the device's connection has subscribed to `what` (the SDK subscribes lazily, after
 * the first handler is set), re-checking at every subscription the hub sees; rejects after `ms`.
 */
export function untilSubscribed(hub: IotHubEmulator, deviceId: string, what: keyof DeviceSubscriptions, ms = 10_000): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const done = (err?: Error): void => {
      hub.off('subscribed', check);
      clearTimeout(timer);
      if (err) reject(err);
      else resolve();
    };
    const timer = setTimeout(() => done(new Error(`${deviceId} did not subscribe to ${what} within ${ms} ms`)), ms);
    function check(): void {
      if (hub.subscriptions(deviceId)[what]) done();
    }
    hub.on('subscribed', check);
    check();
  });
}

/** Resolves once IoT Hub has acknowledged (stored) the message. */
export async function sendWire(client: Client, message: WireMessage, gzip = false): Promise<void> {
  await sendTelemetry(client, toTelemetry(message, { gzip }));
}

/** Sends prepared telemetry: body, application properties, content type and encoding. */
export async function sendTelemetry(client: Client, t: Telemetry): Promise<void> {
  const m = new deviceSdk.Message(t.body);
  m.contentType = 'application/json';
  const encoding = t.systemProperties['content-encoding'];
  // The SDK's type lists only utf-* but sends any value as $.ce; DESIGN §6 uses gzip.
  if (encoding) (m as { contentEncoding?: string }).contentEncoding = encoding;
  for (const [k, v] of Object.entries(t.properties)) m.properties.add(k, v);
  await client.sendEvent(m);
}

/**
 * Answers `resend {fromSeq, toSeq}` like the agent's outbox: re-sends what it still holds
 * (acknowledged by the hub before answering) and names what it evicted.
 */
export function answerResend(client: Client, agent: AgentState, calls: Array<{ fromSeq: number; toSeq: number }>): void {
  client.onDeviceMethod('resend', (req, res) => {
    void (async () => {
      const { fromSeq, toSeq } = req.payload as { fromSeq: number; toSeq: number };
      calls.push({ fromSeq, toSeq });
      const keep = agent.script.sent.filter((s) => s.record.seq >= fromSeq && s.record.seq <= toSeq && !agent.evicted.has(s.record.seq));
      for (let i = 0; i < keep.length; i += 5) {
        await sendWire(client, packMessage(agent.script.device, agent.script.boot, keep.slice(i, i + 5).map((s) => s.record)));
      }
      const evicted = mergeRanges([...agent.evicted].filter((s) => s >= fromSeq && s <= toSeq).sort((a, b) => a - b));
      await res.send(200, { resent: keep.length, evicted: evicted.map(([f, t]) => ({ fromSeq: f, toSeq: t })) });
    })();
  });
}
