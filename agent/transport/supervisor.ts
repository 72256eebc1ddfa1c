import { EventEmitter } from 'node:events';
import deviceSdk from 'azure-iot-device';
import mqttSdk from 'azure-iot-device-mqtt';
import commonSdk from 'azure-iot-common';
import type { Clock, TimerHandle } from '../core/clock.js';
import { EdgeError, errorMessage } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { OutboundMessage, Transport, TransportStatus } from '../core/transport.js';
import { Backoff } from '../core/backoff.js';
import { Signal, waitAny } from '../core/signal.js';
import { ConnectionHistory, type ConnectionEvent } from './connection-history.js';
import { classifyConnectError, connectError } from './connect-error.js';
import { parseDeviceConnectionString } from './connection-string.js';
import { deviceSasToken } from './sas-token.js';
import { disableMqttNumberCache } from './mqtt-number-cache.js';
import type { DeviceClient, HubLink } from './hub-link.js';
import type { HubTargetSource, ProvisioningStatus } from './hub-target.js';


const { Client, Message } = deviceSdk;
const { Mqtt } = mqttSdk;
const { NoRetry } = commonSdk;


export interface SupervisorOptions {
  /** The hub and device; not needed when `target` says where to connect. */
  connectionString?: string;
  /** Asked before every connect where to go (DPS provisioning); replaces `connectionString` and `x509`. */
  target?: HubTargetSource;
  /** PEM of a CA to trust besides the system's (the local emulator's). */
  ca?: string;
  /** X.509 client certificate (PEM); used instead of SAS when given. */
  x509?: { cert: string; key: string; passphrase?: string };
  sas: { tokenTtlSeconds: number; renewBeforeSeconds: number };
  sendTimeoutMs: number;
  connectTimeoutMs: number;
  keepAliveSeconds: number;
  connection: { livenessIntervalMs: number; livenessTimeoutMs: number; reconnectInitialMs: number; reconnectMaxMs: number };
  clock: Clock;
  logger: Logger;
  random?: () => number;
}

export interface SupervisorStatus extends TransportStatus {
  /** Increases with every new client (each reconnect builds a fresh one). */
  generation: number;
  since: number;
  auth: 'sas' | 'x509';
  tokenExpiresAt?: number;
  totals: ConnectionHistory['totals'];
  /** The last few connection events, newest last (the whole ring: `history.list()`). */
  recent: ConnectionEvent[];
  /** Zero-touch provisioning, when the hub comes from DPS. */
  provisioning?: ProvisioningStatus;
}

interface SupervisorEvents {
  status: [TransportStatus];
  /** A fresh client is connected: attach the twin and direct methods to it. */
  connected: [client: DeviceClient, generation: number];
  history: [ConnectionEvent];
}

/**
 * Keeps one `azure-iot-device` client connected for as long as the agent runs, and outlives the
 * SDK's failure modes instead of trusting them:
 * - the SDK's retries are off (NoRetry): it would give up after 240 s and stay down; the
 *   supervisor retries forever with jittered backoff, building a **new client** every time;
 * - a half-open link is found by its own liveness probe (a twin GET when nothing was heard for
 *   `livenessIntervalMs`, answered within `livenessTimeoutMs`), so detection is bounded by
 *   interval + timeout after the last sign of life, whatever the keep-alive does;
 * - SAS tokens are made here, short-lived, and renewed by a planned reconnect that first lets
 *   the sends in flight finish and holds new ones back: nothing fails, nothing is lost;
 * - every change is kept in {@link history} and emitted, for logs and diagnostics.
 * `send` waits (up to `connectTimeoutMs`) for a connection rather than failing at once, so the
 * forwarder resumes as soon as the link is back.
 */
export class ConnectionSupervisor implements Transport, HubLink {
  readonly events = new EventEmitter<SupervisorEvents>();
  readonly history = new ConnectionHistory();
  private probe: (client: DeviceClient) => Promise<unknown> = (client) => client.getTwin();

  private client: DeviceClient | undefined;
  private generation = 0;
  private current: TransportStatus = { state: 'disconnected' };
  private since: number;
  private tokenExpiresAt: number | undefined;
  private started = false;
  private closed = false;
  private renewing = false;
  private loopDone: Promise<void> = Promise.resolve();
  private readonly wake = new Signal();
  private readonly connectedSignal = new Signal();
  private endSession: (() => void) | undefined;
  private readonly timers = new Set<TimerHandle>();
  private readonly inFlight = new Set<Promise<unknown>>();
  private lastHeardAt = 0;
  private readonly backoff: Backoff;
  private device: ReturnType<typeof parseDeviceConnectionString> | undefined;
  private x509: SupervisorOptions['x509'];

  constructor(private readonly options: SupervisorOptions) {
    disableMqttNumberCache();
    this.x509 = options.x509;
    if (!options.target) {
      if (options.connectionString === undefined) throw new TypeError('a supervisor needs a connection string or a target source');
      this.device = parseDeviceConnectionString(options.connectionString);
      if (!options.x509 && !this.device.sharedAccessKey) {
        throw new EdgeError('EDGE_CONFIG_INVALID', 'the connection string says x509=true but hub.x509 (certFile, keyFile) is not configured');
      }
    }
    this.backoff = new Backoff(options.connection.reconnectInitialMs, options.connection.reconnectMaxMs, options.random);
    this.since = options.clock.now();
  }

  /** The device id of the last target ('' before a provisioned agent's first connect). */
  get deviceId(): string {
    return this.device?.deviceId ?? '';
  }

  status(): SupervisorStatus {
    return {
      ...this.current,
      generation: this.generation,
      since: this.since,
      auth: this.x509 || this.options.target?.status().attestation === 'x509' ? 'x509' : 'sas',
      ...(this.tokenExpiresAt !== undefined ? { tokenExpiresAt: this.tokenExpiresAt } : {}),
      totals: { ...this.history.totals },
      recent: this.history.list().slice(-10),
      ...(this.options.target ? { provisioning: this.options.target.status() } : {}),
    };
  }

  /** The connected client, if any (direct methods and the twin use it). */
  get connectedClient(): DeviceClient | undefined {
    return this.current.state === 'connected' ? this.client : undefined;
  }

  /** Starts supervising (idempotent): connects, and keeps reconnecting until `close`. */
  start(): void {
    if (this.started || this.closed) return;
    this.started = true;
    this.loopDone = this.loop();
  }

  async connect(): Promise<void> {
    this.start();
    await this.waitConnected();
  }

  async send(message: OutboundMessage): Promise<void> {
    this.start();
    const client = await this.waitConnected();
    const msg = new Message(message.body);
    msg.messageId = message.messageId;
    msg.contentType = message.contentType;
    // The SDK types list only utf-* encodings, but IoT Hub carries any value; gzip is ours.
    msg.contentEncoding = message.contentEncoding as 'utf-8';
    for (const [key, value] of Object.entries(message.properties)) msg.properties.add(key, value);
    const work = this.withTimeout(client.sendEvent(msg), this.options.sendTimeoutMs, 'send');
    this.inFlight.add(work);
    try {
      await work;
      this.heard();
    } catch (err) {
      const e = err instanceof EdgeError ? err : new EdgeError('EDGE_TRANSPORT_UNAVAILABLE', `IoT Hub send failed: ${errorMessage(err)}`, { cause: err });
      // After a failed or timed-out send the session cannot be trusted: rebuild it.
      this.lose(client, e);
      throw e;
    } finally {
      this.inFlight.delete(work);
    }
  }

  onConnected(listener: (client: DeviceClient, generation: number) => void): void {
    this.events.on('connected', listener);
  }

  onStatus(listener: (status: TransportStatus) => void): void {
    this.events.on('status', listener);
  }

  useLivenessProbe(probe: (client: DeviceClient) => Promise<unknown>): void {
    this.probe = probe;
  }

  /** Something was heard from the hub on the current link (ack, twin answer, method call). */
  heard(): void {
    this.lastHeardAt = this.options.clock.now();
  }

  /**
   * New timeouts and liveness settings (device twin): they apply from the next timer or connect.
   * Credentials and the hub are the local file's and never change here.
   */
  configure(next: Pick<SupervisorOptions, 'sendTimeoutMs' | 'connectTimeoutMs' | 'keepAliveSeconds' | 'connection'>): void {
    this.options.sendTimeoutMs = next.sendTimeoutMs;
    this.options.connectTimeoutMs = next.connectTimeoutMs;
    this.options.keepAliveSeconds = next.keepAliveSeconds;
    this.options.connection = { ...next.connection };
  }

  /** Drops the current client and reconnects at once (tests, diagnostics, re-provisioning); cuts a backoff wait short. */
  reconnect(reason: string): void {
    if (this.client) this.lose(this.client, new EdgeError('EDGE_TRANSPORT_UNAVAILABLE', reason));
    else this.wake.notify();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.clearTimers();
    const client = this.client;
    this.client = undefined;
    this.setState({ ...this.current, state: 'disconnected' });
    this.record({ event: 'closed' });
    this.endSession?.();
    this.wake.notify();
    this.connectedSignal.notify();
    if (client) await this.closeQuietly(client);
    await this.loopDone;
  }

  private async loop(): Promise<void> {
    const { logger, clock } = this.options;
    while (!this.closed) {
      this.record({ event: 'connecting' });
      if (this.current.state !== 'unauthorized') this.setState({ ...this.current, state: 'connecting' });
      let client: DeviceClient;
      try {
        client = await this.open();
      } catch (err) {
        const e = connectError(err);
        const kind = classifyConnectError(e);
        this.record({ event: 'failed', code: e.code, reason: e.message });
        this.options.target?.connectFailed(kind, e);
        this.setState({ ...this.current, state: kind === 'unauthorized' ? 'unauthorized' : 'disconnected', lastError: { code: e.code, message: e.message, at: clock.now() } });
        if (this.backoff.consecutiveFailures === 0) logger.warn({ code: e.code, err: e.message }, 'cannot connect to IoT Hub; retrying with backoff, for as long as it takes');
        this.renewing = false;
        await waitAny([this.wake], { clock, ms: this.backoff.next() });
        continue;
      }
      if (this.closed) {
        await this.closeQuietly(client);
        break;
      }
      this.backoff.reset();
      this.options.target?.connected();
      this.client = client;
      this.generation++;
      this.renewing = false;
      this.heard();
      const ended = new Promise<void>((resolve) => (this.endSession = resolve));
      this.setState({ state: 'connected', connectedAt: clock.now(), ...(this.current.lastError ? { lastError: this.current.lastError } : {}) });
      this.record({ event: 'connected' });
      logger.info({ generation: this.generation, auth: this.x509 ? 'x509' : 'sas' }, 'connected to IoT Hub');
      this.scheduleRenewal(client);
      this.scheduleLiveness(client);
      this.connectedSignal.notify();
      this.events.emit('connected', client, this.generation);
      await ended;
      this.clearTimers();
    }
  }

  private async open(): Promise<DeviceClient> {
    const { clock, ca, keepAliveSeconds, sas, target } = this.options;
    if (target) {
      const next = await target.resolve();
      this.device = parseDeviceConnectionString(next.connectionString);
      this.x509 = next.x509;
    }
    const x509 = this.x509;
    const { hostName, deviceId, sharedAccessKey } = this.device!;
    let client: DeviceClient;
    if (x509) {
      client = Client.fromConnectionString(`HostName=${hostName};DeviceId=${deviceId};x509=true`, Mqtt);
      this.tokenExpiresAt = undefined;
    } else {
      const expiry = Math.floor(clock.now() / 1000) + sas.tokenTtlSeconds;
      client = Client.fromSharedAccessSignature(deviceSasToken(hostName, deviceId, sharedAccessKey!, expiry), Mqtt);
      this.tokenExpiresAt = expiry * 1000;
    }
    client.setRetryPolicy(new NoRetry());
    client.on('error', (err: Error) => this.options.logger.debug({ err: errorMessage(err) }, 'IoT Hub client error'));
    // The SDK emits a results.Disconnected ({ transportObj: the error, reason }), not an Error.
    client.on('disconnect', (d?: unknown) => this.lose(client, disconnectCause(d)));
    try {
      await client.setOptions({ ...(ca ? { ca } : {}), keepalive: keepAliveSeconds, ...(x509 ? { cert: x509.cert, key: x509.key, ...(x509.passphrase ? { passphrase: x509.passphrase } : {}) } : {}) });
      await this.withTimeout(client.open(), this.options.connectTimeoutMs, 'connect');
    } catch (err) {
      await this.closeQuietly(client);
      throw err;
    }
    return client;
  }

  /** Ends the session of `client` (if it is still the current one); the loop reconnects. */
  private lose(client: DeviceClient, err: unknown, event: 'lost' | 'renewing' = 'lost'): void {
    if (this.client !== client || this.closed) return;
    this.client = undefined;
    const e = err instanceof EdgeError ? err : new EdgeError('EDGE_TRANSPORT_UNAVAILABLE', `IoT Hub connection lost: ${errorMessage(err)}`, { cause: err });
    if (event === 'lost') {
      this.setState({ ...this.current, state: 'disconnected', lastError: { code: e.code, message: e.message, at: this.options.clock.now() } });
      this.record({ event: 'lost', code: e.code, reason: e.message });
      this.options.logger.warn({ code: e.code, err: e.message }, 'IoT Hub connection lost; reconnecting');
    } else {
      this.setState({ ...this.current, state: 'connecting' });
    }
    void this.closeQuietly(client);
    this.endSession?.();
  }

  /** Renews the SAS token by a planned reconnect, after the sends in flight have settled. */
  private scheduleRenewal(client: DeviceClient): void {
    if (this.tokenExpiresAt === undefined) return;
    const { clock, sas } = this.options;
    const due = this.tokenExpiresAt - sas.renewBeforeSeconds * 1000 - clock.now();
    this.timer(Math.max(0, due), async () => {
      if (this.client !== client) return;
      this.renewing = true; // new sends wait for the renewed connection
      this.record({ event: 'renewing', reason: 'SAS token renewal' });
      this.options.logger.info('renewing the SAS token (planned reconnect)');
      await Promise.allSettled([...this.inFlight]);
      this.lose(client, new EdgeError('EDGE_TRANSPORT_UNAVAILABLE', 'SAS token renewal'), 'renewing');
    });
  }

  /**
   * Probes once the link has been silent for `livenessIntervalMs` (acks, twin answers and method
   * calls count as heard), so a busy link costs no probes and a dead one is found within
   * interval + timeout of its last sign of life.
   */
  private scheduleLiveness(client: DeviceClient): void {
    const { clock } = this.options;
    const { livenessIntervalMs, livenessTimeoutMs } = this.options.connection;
    const tick = async (): Promise<void> => {
      if (this.client !== client) return;
      const quietFor = clock.now() - this.lastHeardAt;
      if (quietFor < livenessIntervalMs) {
        this.timer(livenessIntervalMs - quietFor, tick);
        return;
      }
      try {
        await this.withTimeout(this.probe(client), livenessTimeoutMs, 'liveness probe');
        this.heard();
      } catch (err) {
        const why = err instanceof EdgeError && err.code === 'EDGE_TRANSPORT_TIMEOUT' ? `no answer to the liveness probe within ${livenessTimeoutMs} ms (half-open link)` : `liveness probe failed: ${errorMessage(err)}`;
        this.lose(client, new EdgeError('EDGE_TRANSPORT_TIMEOUT', why, { cause: err }));
        return;
      }
      if (this.client === client) this.timer(livenessIntervalMs, tick);
    };
    this.timer(livenessIntervalMs, tick);
  }

  private waitConnected(): Promise<DeviceClient> {
    const { clock, connectTimeoutMs } = this.options;
    const deadline = clock.now() + connectTimeoutMs;
    const attempt = async (): Promise<DeviceClient> => {
      for (;;) {
        if (this.closed) throw new EdgeError('EDGE_TRANSPORT_UNAVAILABLE', 'the connection is closed');
        if (this.client && this.current.state === 'connected' && !this.renewing) return this.client;
        const left = deadline - clock.now();
        if (left <= 0) {
          const last = this.current.lastError;
          throw new EdgeError(this.current.state === 'unauthorized' ? 'EDGE_TRANSPORT_UNAUTHORIZED' : 'EDGE_TRANSPORT_UNAVAILABLE', `not connected to IoT Hub${last ? `: ${last.message}` : ''}`);
        }
        await waitAny([this.connectedSignal], { clock, ms: left });
        // Several senders may wait: pass the wake-up on.
        if (this.client && this.current.state === 'connected' && !this.renewing) this.connectedSignal.notify();
      }
    };
    return attempt();
  }

  private setState(next: TransportStatus): void {
    const now = this.options.clock.now();
    if (next.state !== this.current.state) this.since = now;
    // The moment the link went away, kept through the retries that follow (each changes `since`).
    if (next.state === 'connected') delete next.disconnectedAt;
    else if (this.current.state === 'connected') next = { ...next, disconnectedAt: now };
    this.current = next;
    this.events.emit('status', { ...next });
  }

  private record(e: Omit<ConnectionEvent, 'at'>): void {
    const event = { at: this.options.clock.now(), ...e };
    this.history.add(event);
    this.events.emit('history', event);
  }

  private timer(ms: number, fn: () => void | Promise<void>): void {
    const handle = this.options.clock.setTimeout(() => {
      this.timers.delete(handle);
      void fn();
    }, ms);
    this.timers.add(handle);
  }

  private clearTimers(): void {
    for (const t of this.timers) this.options.clock.clearTimeout(t);
    this.timers.clear();
  }

  /** `close` on a half-open link can hang: bound it, the client is abandoned either way. */
  private async closeQuietly(client: DeviceClient): Promise<void> {
    client.removeAllListeners('disconnect');
    await this.withTimeout(client.close(), 2000, 'close').catch(() => undefined);
  }

  private withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
    const { clock } = this.options;
    return new Promise<T>((resolve, reject) => {
      const timer = clock.setTimeout(() => reject(new EdgeError('EDGE_TRANSPORT_TIMEOUT', `IoT Hub did not answer the ${what} within ${ms} ms`)), ms);
      work.then(
        (v) => {
          clock.clearTimeout(timer);
          resolve(v);
        },
        (e: unknown) => {
          clock.clearTimeout(timer);
          reject(e instanceof Error ? e : new Error(String(e)));
        },
      );
    });
  }
}

/** The error inside the SDK's `disconnect` argument, so the message names it (not `[object Object]`). */
export function disconnectCause(d: unknown): Error {
  if (d instanceof Error) return d;
  if (typeof d === 'object' && d !== null) {
    const { transportObj, reason } = d as { transportObj?: unknown; reason?: unknown };
    if (transportObj instanceof Error) return transportObj;
    if (typeof reason === 'string' && reason) return new Error(reason);
  }
  return new Error('the hub closed the connection');
}
