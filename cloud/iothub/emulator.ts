import { EventEmitter } from 'node:events';
import { access, constants as fsConstants, mkdir } from 'node:fs/promises';
import { createServer as createTlsServer, type Server as TlsServer, type TLSSocket } from 'node:tls';
import type { AddressInfo, Socket } from 'node:net';
import { resolve as resolvePath } from 'node:path';
import { Aedes, type Client } from 'aedes';
import { EdgeError, systemErrorCode } from '../../agent/core/errors.js';
import { systemClock, type Clock } from '../../agent/core/clock.js';
import { silentLogger, type Logger } from '../../agent/core/logger.js';
import type { HubEvent, MessageLogReader } from './hub-event.js';
import { DeviceRegistry, deviceConnectionString } from './device-registry.js';
import { DeviceSessions } from './device-sessions.js';
import { FaultConnection } from './fault-connection.js';
import { FaultInjector } from './faults.js';
import { MessageLog } from './message-log.js';
import { MethodCalls, type InvokeOptions, type MethodResult } from './methods.js';
import { TwinHandler } from './twin-handler.js';
import { TwinStore, type TwinDocument } from './twin-store.js';
import { TelemetryHandler } from './telemetry.js';
import { CloudToDevice, type C2DOptions, type C2DResult } from './c2d.js';
import { createDeviceGateway } from './device-gateway.js';
import { ensureTlsMaterial, type TlsMaterial } from './tls-certs.js';
import { METHODS_FILTER, TWIN_DESIRED_FILTER, TWIN_RESPONSE_FILTER, c2dFilter } from './topics.js';
import { startHttpService, type HttpService } from './http-service.js';
import type { DeviceInfo, RegisteredDevice, ServiceFace } from './service-face.js';

export type { DeviceInfo, RegisteredDevice } from './service-face.js';
import { claimDataDir, releaseDataDir, type RuntimeInfo } from './runtime-file.js';
import { listen } from './listen.js';
import { SessionStore } from './session-store.js';
import { FileUploadFace } from './file-upload/file-upload-face.js';
import { routeByFirstByte } from './file-upload/first-byte-router.js';
import type { UploadRecord } from './file-upload/file-store.js';
import { startEventHubsEndpoint, stopEventHubsEndpoint, type AmqpEventHubEndpoint } from './amqp/index.js';

/**
 * A local IoT Hub: TLS MQTT on loopback for devices (the real azure-iot-device SDK connects to it
 * unchanged), a message log standing in for the Event Hub-compatible endpoint, twins, direct
 * methods, cloud-to-device messages, fault injection, and an optional loopback HTTP service API.
 *
 * @example
 * const hub = await IotHubEmulator.start({ dataDir });
 * const { connectionString } = await hub.registerDevice('dev-1');
 * const client = Client.fromConnectionString(connectionString, Mqtt);
 * client.setOptions({ ca: hub.caPem });
 * await client.open();
 */
export interface EmulatorOptions {
  /** Where certificates, the registry, twins and the message log live (created if missing). */
  dataDir: string;
  /** MQTT/TLS port; 0 (default) picks a free one. */
  port?: number;
  /** Address to listen on; loopback by default. */
  listenHost?: string;
  /** Port for the HTTP service API; omitted or null = no HTTP service; 0 = a free port. */
  servicePort?: number | null;
  /** Port for the AMQP Event Hub-compatible endpoint (see amqp/README.md); omitted or null = none; 0 = a free port. */
  amqpPort?: number | null;
  /** Partitions of a new message log (default 4); an existing log keeps its own. */
  partitionCount?: number;
  /** TLS material to install in a data dir that has none, instead of generating it. */
  tls?: TlsMaterial;
  /** Time for SAS expiry, enqueued times, fault durations and method timeouts. */
  clock?: Clock;
  logger?: Logger;
}

export interface DeviceSubscriptions {
  methods: boolean;
  twinResponses: boolean;
  desiredUpdates: boolean;
  c2d: boolean;
}

export interface EmulatorEvents {
  /** A telemetry message is durably stored (its PUBACK, if any, follows). */
  telemetry: [HubEvent];
  connected: [deviceId: string];
  disconnected: [deviceId: string];
  /** A CONNECT was refused; `reason` is what the hub logged (the device only sees the code). */
  refused: [deviceId: string, reason: string];
  /** A device's connection subscribed to more topics (see `subscriptions`); tests wait on it. */
  subscribed: [deviceId: string];
  /** A device notified the outcome of a file upload (its blob, if any, is stored by then). */
  fileUploaded: [UploadRecord];
}

export class IotHubEmulator extends EventEmitter<EmulatorEvents> implements ServiceFace {
  /** PEM of the CA that signed the server certificate; give it to the device SDK. */
  readonly caPem: string;
  readonly dataDir: string;
  readonly faults: FaultInjector;
  readonly clock: Clock;
  private readonly log: Logger;
  private readonly registry: DeviceRegistry;
  private readonly twins: TwinHandler;
  private readonly messages: MessageLog;
  private readonly sessions: DeviceSessions;
  private readonly methods: MethodCalls;
  private readonly c2d: CloudToDevice;
  private readonly mqttSessions: SessionStore;
  private broker: Aedes | undefined;
  private server: TlsServer | undefined;
  private http: HttpService | undefined;
  private fileFace: FileUploadFace | undefined;
  private amqp: AmqpEventHubEndpoint | undefined;
  private readonly sockets = new Set<Socket>();
  private mqttPort = 0;
  private stopped = false;

  private constructor(parts: {
    dataDir: string;
    caPem: string;
    clock: Clock;
    log: Logger;
    registry: DeviceRegistry;
    twinStore: TwinStore;
    messages: MessageLog;
    mqttSessions: SessionStore;
  }) {
    super();
    this.dataDir = parts.dataDir;
    this.caPem = parts.caPem;
    this.clock = parts.clock;
    this.log = parts.log;
    this.registry = parts.registry;
    this.messages = parts.messages;
    this.mqttSessions = parts.mqttSessions;
    this.sessions = new DeviceSessions(parts.clock);
    this.twins = new TwinHandler(parts.twinStore, this.sessions, parts.log);
    this.methods = new MethodCalls(this.sessions, parts.clock);
    this.c2d = new CloudToDevice(this.sessions);
    this.faults = new FaultInjector(parts.clock, {
      cutConnection: (id) => {
        const s = this.sessions.get(id);
        s?.wire.cut();
        return s !== undefined;
      },
      silenceConnection: (id) => {
        const s = this.sessions.get(id);
        s?.wire.goSilent();
        return s !== undefined;
      },
    });
  }

  /**
   * Starts an emulator. Fails with EDGE_DATA_DIR_UNUSABLE (naming the path) when the data dir
   * cannot be created or written, EDGE_STORE_LOCKED when another running emulator uses it, and
   * EDGE_PORT_IN_USE (naming the port) when a port is taken.
   */
  static async start(options: EmulatorOptions): Promise<IotHubEmulator> {
    const dataDir = resolvePath(options.dataDir);
    const clock = options.clock ?? systemClock;
    const log = (options.logger ?? silentLogger).child({ module: 'iothub-emulator' });
    await ensureUsableDir(dataDir);
    await claimDataDir(dataDir);
    let messages: MessageLog | undefined;
    let hub: IotHubEmulator | undefined;
    try {
      const tls = await ensureTlsMaterial(dataDir, options.tls);
      const registry = await DeviceRegistry.open(dataDir);
      const twinStore = await TwinStore.open(dataDir);
      const mqttSessions = await SessionStore.open(dataDir);
      const openOptions: { clock: Clock; partitionCount?: number } = { clock };
      if (options.partitionCount !== undefined) openOptions.partitionCount = options.partitionCount;
      messages = await MessageLog.open(dataDir, openOptions);
      for (const r of messages.recovered) log.warn(r, 'message log: torn tail truncated');
      hub = new IotHubEmulator({ dataDir, caPem: tls.caPem, clock, log, registry, twinStore, messages, mqttSessions });
      hub.fileFace = await FileUploadFace.start({
        dataDir, registry, clock, log, certPem: tls.serverCertPem, keyPem: tls.serverKeyPem, listenHost: options.listenHost ?? '127.0.0.1',
        hostNames: () => hub!.acceptedHostNames(), onNotified: (record) => hub!.emit('fileUploaded', record),
        unavailable: () => hub!.faults.refusing() !== undefined,
      });
      await hub.startBroker(tls.serverCertPem, tls.serverKeyPem, options.port ?? 0, options.listenHost ?? '127.0.0.1');
      if (options.servicePort !== undefined && options.servicePort !== null) {
        hub.http = await startHttpService(hub, options.servicePort, options.listenHost ?? '127.0.0.1');
      }
      if (options.amqpPort !== undefined && options.amqpPort !== null) {
        const amqp = await startEventHubsEndpoint({ dataDir, log: messages, port: options.amqpPort, host: options.listenHost ?? '127.0.0.1', clock, logger: log });
        hub.amqp = amqp;
        hub.on('telemetry', (e) => amqp.wake(e.partition));
      }
      await hub.writeRuntimeInfo();
      log.info({ port: hub.port, servicePort: hub.servicePort }, 'IoT Hub emulator started');
      return hub;
    } catch (err) {
      if (hub) await hub.stop().catch(() => undefined);
      else {
        await messages?.close().catch(() => undefined);
        await releaseDataDir(dataDir);
      }
      throw dataDirError(err, dataDir);
    }
  }

  /** The MQTT/TLS port devices connect to. */
  get port(): number {
    return this.mqttPort;
  }

  /** The host name devices use in connection strings: `localhost:PORT`. */
  get hostName(): string {
    return `localhost:${this.mqttPort}`;
  }

  /** The HTTP service API's port, when it was started. */
  get servicePort(): number | undefined {
    return this.http?.port;
  }

  /** The AMQP Event Hub-compatible endpoint's connection string (policy `service` by default), when it runs. */
  eventHubsConnectionString(keyName?: string): string | undefined {
    return this.amqp?.connectionString(keyName);
  }

  /** The AMQP endpoint itself (events, open links), when it runs. */
  get eventHubs(): AmqpEventHubEndpoint | undefined {
    return this.amqp;
  }

  /** The Event Hub-compatible read side: what the reconciler consumes. */
  get messageLog(): MessageLogReader {
    return this.messages;
  }

  /** Registers a device (or returns the existing one) with its connection string; `primaryKey` sets its key (as DPS does). */
  async registerDevice(deviceId: string, primaryKey?: string): Promise<RegisteredDevice> {
    const identity = await this.registry.register(deviceId, this.clock.now(), primaryKey);
    return { ...identity, connectionString: deviceConnectionString(this.hostName, identity.deviceId, identity.primaryKey) };
  }

  /**
   * Registers a device that authenticates with a self-signed X.509 client certificate of this
   * SHA-256 thumbprint. Its connection string is `HostName=…;DeviceId=…;x509=true`.
   */
  async registerX509Device(deviceId: string, thumbprint: string): Promise<{ deviceId: string; connectionString: string }> {
    await this.registry.registerX509(deviceId, thumbprint, this.clock.now());
    return { deviceId, connectionString: `HostName=${this.hostName};DeviceId=${deviceId};x509=true` };
  }

  /** Removes a device and its twin, and drops its connection. */
  async removeDevice(deviceId: string): Promise<boolean> {
    this.faults.dropConnection(deviceId);
    await this.twins.remove(deviceId);
    await this.mqttSessions.discard(deviceId);
    const existed = await this.registry.remove(deviceId);
    // A device that reconnected while the removal was written would otherwise stay connected.
    this.faults.dropConnection(deviceId);
    return existed;
  }

  getDevice(deviceId: string): RegisteredDevice | undefined {
    const identity = this.registry.get(deviceId);
    return identity && { ...identity, connectionString: deviceConnectionString(this.hostName, identity.deviceId, identity.primaryKey) };
  }

  listDevices(): DeviceInfo[] {
    return this.registry.list().map((d) => {
      const s = this.sessions.get(d.deviceId);
      return { deviceId: d.deviceId, connected: s !== undefined, connectedAt: s?.connectedAt ?? null, createdAt: d.createdAt };
    });
  }

  isConnected(deviceId: string): boolean {
    return this.sessions.get(deviceId) !== undefined;
  }

  /**
   * What the device's current connection has subscribed to: a direct method, a desired push or
   * a C2D message only reaches it once the matching flag is true (the SDK subscribes lazily).
   */
  subscriptions(deviceId: string): DeviceSubscriptions {
    const has = (filter: string): boolean => this.sessions.isSubscribed(deviceId, filter);
    return {
      methods: has(METHODS_FILTER),
      twinResponses: has(TWIN_RESPONSE_FILTER),
      desiredUpdates: has(TWIN_DESIRED_FILTER),
      c2d: has(c2dFilter(deviceId)),
    };
  }

  /** The twin as the device's GET would see it. @throws EDGE_HUB_DEVICE_UNKNOWN */
  getTwin(deviceId: string): TwinDocument {
    this.requireDevice(deviceId);
    return this.twins.getTwin(deviceId);
  }

  /**
   * Sets desired properties (JSON merge patch; `null` deletes). Pushed at once to the device if
   * it is online and subscribed. Resolves with the new desired `$version`.
   * @throws EDGE_HUB_DEVICE_UNKNOWN; TwinPatchError (status 400) for a patch IoT Hub refuses.
   */
  async updateDesired(deviceId: string, patch: Record<string, unknown>): Promise<{ version: number; pushed: boolean }> {
    this.requireDevice(deviceId);
    return this.twins.updateDesired(deviceId, patch);
  }

  /**
   * Calls a direct method. @throws EDGE_HUB_DEVICE_UNKNOWN, EDGE_HUB_DEVICE_OFFLINE (at once),
   * EDGE_HUB_METHOD_TIMEOUT (after `responseTimeoutMs`, default 30 s).
   */
  async invokeMethod(deviceId: string, methodName: string, payload?: unknown, options?: InvokeOptions): Promise<MethodResult> {
    this.requireDevice(deviceId);
    return this.methods.invoke(deviceId, methodName, payload, options);
  }

  /** Sends a cloud-to-device message (queued while the device is offline). @throws EDGE_HUB_DEVICE_UNKNOWN */
  async sendC2D(deviceId: string, body: Buffer | string, options?: C2DOptions): Promise<C2DResult> {
    this.requireDevice(deviceId);
    return this.c2d.send(deviceId, body, options);
  }

  /** File uploads devices asked for (IoT Hub file upload), with where each stored blob is on disk. */
  fileUploads(): Array<UploadRecord & { path?: string }> {
    const face = this.fileFace;
    if (!face) return [];
    return face.list().map((r) => (r.storedAt !== undefined ? { ...r, path: face.blobPath(r) } : r));
  }

  /** Total telemetry messages stored, over all partitions. */
  messageCount(): number {
    return this.messages.count();
  }

  /** Stops accepting, drops every connection, waits for pending log writes, closes files. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.methods.abortAll(new EdgeError('EDGE_TRANSPORT_UNAVAILABLE', 'IoT Hub emulator stopped'));
    this.faults.clearAll();
    const server = this.server;
    const closed = server ? new Promise<void>((r) => server.close(() => r())) : Promise.resolve();
    for (const s of this.sockets) s.destroy();
    const broker = this.broker;
    if (broker) await new Promise<void>((r) => broker.close(() => r()));
    await closed;
    await this.http?.close();
    await this.fileFace?.close();
    if (this.amqp) await stopEventHubsEndpoint(this.amqp, this.dataDir);
    this.sessions.clear();
    await Promise.all([this.messages.close(), this.registry.settled(), this.twins.settled(), this.mqttSessions.settled()]);
    await releaseDataDir(this.dataDir);
    this.log.info('IoT Hub emulator stopped');
  }

  private requireDevice(deviceId: string): void {
    if (!this.registry.get(deviceId)) throw new EdgeError('EDGE_HUB_DEVICE_UNKNOWN', `device ${deviceId} is not registered`);
  }

  /** A connection string may name the hub by loopback IP, or without a port when on 8883. */
  private acceptedHostNames(): string[] {
    return [this.hostName, `127.0.0.1:${this.mqttPort}`, ...(this.mqttPort === 8883 ? ['localhost', '127.0.0.1'] : [])];
  }

  private async startBroker(certPem: string, keyPem: string, port: number, listenHost: string): Promise<void> {
    const telemetry = new TelemetryHandler({
      log: this.messages,
      faults: this.faults,
      onStored: (event) => this.emit('telemetry', event),
      onFailure: (client, err) => {
        this.log.error({ err, deviceId: client.id }, 'telemetry not stored; dropping the connection');
        (client.conn as FaultConnection).cut?.();
      },
    });
    const gateway = createDeviceGateway({
      registry: this.registry,
      clock: this.clock,
      faults: this.faults,
      telemetry,
      twin: this.twins,
      methods: this.methods,
      log: this.log,
      hostNames: () => this.acceptedHostNames(),
      onRefused: (deviceId, reason) => this.emit('refused', deviceId, reason),
    });
    // keepaliveLimit: IoT Hub's maximum; aedes itself drops a client after 1.5× its keep-alive.
    const broker = await Aedes.createBroker({ ...gateway.hooks, keepaliveLimit: 1177, connectTimeout: 30_000 });
    this.broker = broker;
    // Give back the persistent sessions of the previous run (see session-store.ts).
    const persistence = (broker as unknown as { persistence: { addSubscriptions(c: { id: string }, s: Array<{ topic: string; qos: number }>): Promise<unknown> } }).persistence;
    for (const s of this.mqttSessions.all()) await persistence.addSubscriptions({ id: s.deviceId }, s.subscriptions);
    const saveSessions = (p: Promise<void>): void => void p.catch((err: unknown) => this.log.error({ err }, 'saving MQTT sessions failed'));
    broker.on('connackSent', (packet, client: Client) => {
      if (packet.returnCode !== 0) return;
      if (client.clean) saveSessions(this.mqttSessions.discard(client.id));
      const wire = client.conn as FaultConnection;
      this.sessions.add(
        {
          deviceId: client.id,
          client,
          wire,
          connectedAt: this.clock.now(),
          tokenExpiresAt: gateway.tokenExpiry(client) ?? this.clock.now(),
        },
        (s) => {
          // IoT Hub disconnects a device whose token has expired; the SDK renews before that.
          this.log.info({ deviceId: s.deviceId }, 'SAS token expired; disconnecting');
          s.wire.cut();
        },
      );
      this.emit('connected', client.id);
      // Subscriptions restored from a persistent session do not raise 'subscribe': flush C2D here too.
      this.c2d.flush(client.id).catch((err: unknown) => this.log.error({ err }, 'C2D flush failed'));
    });
    broker.on('clientDisconnect', (client: Client) => {
      if (this.sessions.remove(client.id, client)) this.emit('disconnected', client.id);
    });
    broker.on('unsubscribe', (topics, client: Client) => {
      if (!client.clean) saveSessions(this.mqttSessions.unsubscribed(client.id, topics));
    });
    broker.on('subscribe', (subs, client: Client) => {
      if (!client.clean) saveSessions(this.mqttSessions.subscribed(client.id, subs));
      if (subs.some((s) => s.topic === c2dFilter(client.id))) {
        this.c2d.flush(client.id).catch((err: unknown) => this.log.error({ err }, 'C2D flush failed'));
      }
      this.emit('subscribed', client.id);
    });
    // aedes reports persistence failures as broker 'error' events; unheard, they would end the process.
    (broker as unknown as NodeJS.EventEmitter).on('error', (err: Error) => this.log.error({ err }, 'broker error'));
    broker.on('clientError', (client: Client, err: Error) => this.log.debug({ deviceId: client.id, err: err.message, stack: err.stack }, 'client error'));
    broker.on('connectionError', (_client: Client, err: Error) => this.log.debug({ err: err.message }, 'connection error'));

    // Client certificates are asked for but not required: X.509 devices send one, SAS devices none.
    const server = createTlsServer({ cert: certPem, key: keyPem, minVersion: 'TLSv1.2', requestCert: true, rejectUnauthorized: false }, (socket: TLSSocket) => {
      // The SDK's HTTPS calls (file upload) come to the same host and port as MQTT.
      const files = this.fileFace;
      if (!files) broker.handle(new FaultConnection(socket));
      else routeByFirstByte(socket, { mqtt: (s) => broker.handle(new FaultConnection(s)), http: (s) => files.handleSocket(s) });
    });
    server.on('connection', (raw: Socket) => {
      this.sockets.add(raw);
      raw.once('close', () => this.sockets.delete(raw));
      // 'reset': the device's TCP connect succeeds, then the link drops before TLS is up.
      if (this.faults.refusing() === 'reset') raw.destroy();
    });
    server.on('tlsClientError', (err) => this.log.debug({ err: err.message }, 'TLS handshake failed'));
    this.server = server;
    await listen(server, port, listenHost, 'MQTT');
    this.mqttPort = (server.address() as AddressInfo).port;
  }

  private async writeRuntimeInfo(): Promise<void> {
    const info: RuntimeInfo = {
      pid: process.pid,
      port: this.mqttPort,
      servicePort: this.http?.port ?? null,
      hostName: this.hostName,
      startedAt: this.clock.now(),
    };
    await claimDataDir(this.dataDir, info);
  }
}

const FS_CODES = new Set(['EACCES', 'EPERM', 'EROFS', 'ENOTDIR', 'EISDIR', 'ENOENT', 'ENOSPC', 'EEXIST', 'ELOOP']);

/** File-system failures while opening the data dir's files become one clear error naming it. */
function dataDirError(err: unknown, dir: string): unknown {
  const code = systemErrorCode(err);
  if (err instanceof EdgeError || !code || !FS_CODES.has(code)) return err;
  return new EdgeError('EDGE_DATA_DIR_UNUSABLE', `data directory ${dir} is not usable (${code})`, { cause: err });
}

async function ensureUsableDir(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true });
    await access(dir, fsConstants.R_OK | fsConstants.W_OK | fsConstants.X_OK);
  } catch (cause) {
    throw new EdgeError('EDGE_DATA_DIR_UNUSABLE', `data directory ${dir} is not usable (${systemErrorCode(cause) ?? 'error'})`, { cause });
  }
}
