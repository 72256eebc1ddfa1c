import { EventEmitter } from 'node:events';
import deviceSdk from 'azure-iot-device';
import mqttSdk from 'azure-iot-device-mqtt';
import commonSdk from 'azure-iot-common';
import { EdgeError, errorMessage } from '../core/errors.js';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { OutboundMessage, Transport, TransportStatus } from '../core/transport.js';

const { Client, Message } = deviceSdk;
const { Mqtt } = mqttSdk;
const { NoRetry } = commonSdk;

type DeviceClient = InstanceType<typeof Client>;

export interface IotHubTransportOptions {
  connectionString: string;
  /** PEM of a CA to trust besides the system's (the local emulator's). */
  ca?: string;
  /** Upper bound on one send, PUBACK included: the SDK alone can wait forever. */
  sendTimeoutMs: number;
  connectTimeoutMs: number;
  keepAliveSeconds: number;
  clock: Clock;
  logger: Logger;
}

/**
 * `Transport` over the official device SDK and MQTT. The SDK's own retries are switched off
 * (NoRetry): the forwarder owns retry and backoff, so a failure surfaces at once instead of
 * after the SDK's 240 s of silent retrying, and nothing is queued in the SDK's memory.
 */
export class IotHubTransport implements Transport {
  private client: DeviceClient | undefined;
  private opening: Promise<void> | undefined;
  private state: TransportStatus = { state: 'disconnected' };
  /** Emits `status` at every change, for logs, diagnostics and tests that wait on it. */
  readonly events = new EventEmitter<{ status: [TransportStatus] }>();

  constructor(private readonly options: IotHubTransportOptions) {}

  private get current(): TransportStatus {
    return this.state;
  }

  private set current(next: TransportStatus) {
    this.state = next;
    this.events.emit('status', { ...next });
  }

  status(): TransportStatus {
    return { ...this.current };
  }

  connect(): Promise<void> {
    if (this.current.state === 'connected' && this.client) return Promise.resolve();
    this.opening ??= this.open().finally(() => {
      this.opening = undefined;
    });
    return this.opening;
  }

  async send(message: OutboundMessage): Promise<void> {
    await this.connect();
    const client = this.client;
    if (!client) throw new EdgeError('EDGE_TRANSPORT_UNAVAILABLE', 'not connected to IoT Hub');
    const msg = new Message(message.body);
    msg.messageId = message.messageId;
    msg.contentType = message.contentType;
    // The SDK types list only utf-* encodings, but IoT Hub carries any value; gzip is ours.
    msg.contentEncoding = message.contentEncoding as 'utf-8';
    for (const [key, value] of Object.entries(message.properties)) msg.properties.add(key, value);
    try {
      await this.withTimeout(client.sendEvent(msg), this.options.sendTimeoutMs, 'send');
    } catch (err) {
      // After a failed or timed-out send we cannot trust the session: start over next time.
      await this.drop(err);
      throw err;
    }
  }

  async close(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    this.current = { ...this.current, state: 'disconnected' };
    if (client) await client.close().catch(() => undefined);
  }

  private async open(): Promise<void> {
    const { logger } = this.options;
    this.current = { ...this.current, state: 'connecting' };
    let client: DeviceClient;
    try {
      client = Client.fromConnectionString(this.options.connectionString, Mqtt);
    } catch (cause) {
      throw this.fail(new EdgeError('EDGE_CONFIG_INVALID', `the IoT Hub connection string is malformed: ${errorMessage(cause)}`, { cause }));
    }
    client.setRetryPolicy(new NoRetry());
    client.on('error', (err: Error) => logger.warn({ err: errorMessage(err) }, 'IoT Hub client error'));
    client.on('disconnect', (err?: Error) => {
      if (this.client !== client) return;
      logger.warn({ err: err ? errorMessage(err) : undefined }, 'IoT Hub connection lost');
      void this.drop(err ?? new Error('disconnected'));
    });
    try {
      await client.setOptions({ ca: this.options.ca, keepalive: this.options.keepAliveSeconds });
      await this.withTimeout(client.open(), this.options.connectTimeoutMs, 'connect');
    } catch (err) {
      await client.close().catch(() => undefined);
      throw this.fail(this.translate(err));
    }
    this.client = client;
    this.current = { state: 'connected', connectedAt: this.options.clock.now(), lastError: this.current.lastError };
    logger.info('connected to IoT Hub');
  }

  private async drop(err: unknown): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (this.current.state === 'connected') {
      this.current = { ...this.current, state: 'disconnected', lastError: this.errorInfo(this.translate(err)) };
    }
    if (client) await client.close().catch(() => undefined);
  }

  private fail(err: EdgeError): EdgeError {
    this.current = {
      ...this.current,
      state: err.code === 'EDGE_TRANSPORT_UNAUTHORIZED' ? 'unauthorized' : 'disconnected',
      lastError: this.errorInfo(err),
    };
    return err;
  }

  private errorInfo(err: EdgeError): { code: string; message: string; at: number } {
    return { code: err.code, message: err.message, at: this.options.clock.now() };
  }

  private translate(err: unknown): EdgeError {
    if (err instanceof EdgeError) return err;
    const name = err instanceof Error ? err.name : '';
    if (name === 'UnauthorizedError') {
      return new EdgeError(
        'EDGE_TRANSPORT_UNAUTHORIZED',
        'IoT Hub refused this device’s credentials (wrong key, expired token or unknown device); readings stay in the buffer',
        { cause: err },
      );
    }
    return new EdgeError('EDGE_TRANSPORT_UNAVAILABLE', `IoT Hub is unreachable: ${errorMessage(err)}`, { cause: err });
  }

  private withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
    const { clock } = this.options;
    return new Promise<T>((resolve, reject) => {
      const timer = clock.setTimeout(
        () => reject(new EdgeError('EDGE_TRANSPORT_TIMEOUT', `IoT Hub did not answer the ${what} within ${ms} ms`)),
        ms,
      );
      work.then(
        (v) => {
          clock.clearTimeout(timer);
          resolve(v);
        },
        (e: unknown) => {
          clock.clearTimeout(timer);
          reject(e);
        },
      );
    });
  }
}
