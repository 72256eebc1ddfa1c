import { EventEmitter } from 'node:events';
import { randomUUID, createHmac, timingSafeEqual, X509Certificate } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { createServer as createTlsServer, type Server as TlsServer, type TLSSocket } from 'node:tls';
import type { AddressInfo, Socket } from 'node:net';
import { resolve as resolvePath } from 'node:path';
import { Aedes, type AuthenticateError, type Client, type PublishPacket } from 'aedes';
import { systemClock, type Clock } from '../../../agent/core/clock.js';
import { errorMessage } from '../../../agent/core/errors.js';
import { silentLogger, type Logger } from '../../../agent/core/logger.js';
import { ensureTlsMaterial, type TlsMaterial } from '../tls-certs.js';
import { listen } from '../listen.js';
import { parseSasToken } from '../sas.js';
import { pubackBytes } from '../telemetry.js';
import { FaultConnection } from '../fault-connection.js';
import { DpsFaults } from './dps-faults.js';
import { EnrollmentStore, type EnrollmentMatch } from './enrollments.js';
import { RegistrationStore, type RegistrationRecord } from './registrations.js';

/** What DPS needs of a hub it assigns devices to: its name, and creating the device identity there. */
export interface AssignableHub {
  readonly hostName: string;
  registerDevice(deviceId: string, primaryKey?: string): Promise<unknown>;
  registerX509Device(deviceId: string, thumbprint: string): Promise<unknown>;
}

export interface DpsOptions {
  dataDir: string;
  /** The hubs devices are allocated to (evenly: the one with fewest registrations first). */
  hubs: AssignableHub[];
  /** DPS's ID scope; devices put it in their username and SAS resource. */
  idScope?: string;
  port?: number;
  listenHost?: string;
  /** TLS identity to install in a data dir without one (share the hubs' CA so a device trusts one). */
  tls?: TlsMaterial;
  /** The `retry-after` of an `assigning` answer: how long the SDK waits before it polls (default 1 s; tests shorten it). */
  pollAfterSeconds?: number;
  clock?: Clock;
  logger?: Logger;
}

export interface DpsEvents {
  /** A CONNECT came in for this registration id (counted before authentication). */
  connection: [registrationId: string];
  /** A registration completed and its device exists on the assigned hub. */
  registered: [RegistrationRecord];
  refused: [registrationId: string, reason: string];
}

const NOT_AUTHORIZED = 5;
const RESPONSE_FILTER = '$dps/registrations/res/#';
const REGISTER = /^\$dps\/registrations\/PUT\/iotdps-register\/\?(.*)$/;
const OPERATION_STATUS = /^\$dps\/registrations\/GET\/iotdps-get-operationstatus\/\?(.*)$/;

interface Operation {
  record: RegistrationRecord;
}

/**
 * A local Device Provisioning Service: the MQTT face `azure-iot-provisioning-device-mqtt` speaks
 * (TLS on loopback), symmetric-key and X.509 attestation against individual and group
 * enrollments, allocation to one of several {@link AssignableHub}s (creating the device there
 * with the enrollment's key or certificate), the registration record, and faults.
 *
 * Protocol, as the SDK uses it: CONNECT with client id = registration id and username
 * `{idScope}/registrations/{registrationId}/api-version=…`, password a SAS token over
 * `{idScope}/registrations/{registrationId}` (or none, with a TLS client certificate); SUBSCRIBE
 * `$dps/registrations/res/#`; PUBLISH `$dps/registrations/PUT/iotdps-register/?$rid=R` → answer
 * `$dps/registrations/res/202/?$rid=R&retry-after=S` `{operationId, status: "assigning"}`; then
 * PUBLISH `…/GET/iotdps-get-operationstatus/?$rid=R2&operationId=O` → `res/200` with
 * `{status: "assigned", registrationState: {assignedHub, deviceId, …}}`.
 */
export class DpsEmulator extends EventEmitter<DpsEvents> {
  readonly idScope: string;
  readonly caPem: string;
  readonly faults = new DpsFaults();
  readonly enrollments: EnrollmentStore;
  private readonly operations = new Map<string, Operation>();
  private readonly matches = new WeakMap<Client, EnrollmentMatch>();
  private readonly sockets = new Set<Socket>();
  private readonly connectionCounts = new Map<string, number>();
  private broker: Aedes | undefined;
  private server: TlsServer | undefined;
  private mqttPort = 0;
  private stopped = false;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly pollAfterSeconds: number;

  private constructor(
    private readonly options: DpsOptions,
    readonly dataDir: string,
    tls: TlsMaterial,
    readonly registrations: RegistrationStore,
  ) {
    super();
    this.idScope = options.idScope ?? '0ne00000001';
    this.caPem = tls.caPem;
    this.enrollments = new EnrollmentStore(dataDir);
    this.clock = options.clock ?? systemClock;
    this.log = (options.logger ?? silentLogger).child({ module: 'dps-emulator' });
    this.pollAfterSeconds = options.pollAfterSeconds ?? 1;
  }

  static async start(options: DpsOptions): Promise<DpsEmulator> {
    if (options.hubs.length === 0) throw new TypeError('a DPS needs at least one hub to assign devices to');
    const dataDir = resolvePath(options.dataDir);
    await mkdir(dataDir, { recursive: true });
    const tls = await ensureTlsMaterial(dataDir, options.tls);
    const dps = new DpsEmulator(options, dataDir, tls, await RegistrationStore.open(dataDir));
    await dps.listen(tls, options.port ?? 0, options.listenHost ?? '127.0.0.1');
    return dps;
  }

  /** The global endpoint devices are given: `localhost:PORT`. */
  get host(): string {
    return `localhost:${this.mqttPort}`;
  }

  get port(): number {
    return this.mqttPort;
  }

  get hubs(): readonly AssignableHub[] {
    return this.options.hubs;
  }

  /** CONNECTs seen for a registration id since start (a device that reuses its assignment makes none). */
  connections(registrationId: string): number {
    return this.connectionCounts.get(registrationId) ?? 0;
  }

  /** Stops listening and drops every connection (idempotent). */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    const server = this.server;
    const closed = server ? new Promise<void>((r) => server.close(() => r())) : Promise.resolve();
    for (const s of this.sockets) s.destroy();
    const broker = this.broker;
    if (broker) await new Promise<void>((r) => broker.close(() => r()));
    await closed;
    await this.registrations.settled();
  }

  private async listen(tls: TlsMaterial, port: number, host: string): Promise<void> {
    const broker = await Aedes.createBroker({
      preConnect: (_client, _packet, done) => done(null, true),
      authenticate: (client, username, password, done) => {
        this.authenticate(client, username, password).then(
          () => done(null, true),
          (err: unknown) => {
            const reason = errorMessage(err);
            this.log.info({ registrationId: client.id, reason }, 'DPS connection refused');
            this.emit('refused', client.id, reason);
            done(Object.assign(new Error(reason), { returnCode: NOT_AUTHORIZED }) as AuthenticateError, false);
          },
        );
      },
      authorizeSubscribe: (_client, sub, done) => done(null, sub.topic === RESPONSE_FILTER ? { ...sub, qos: sub.qos > 1 ? 1 : sub.qos } : null),
      authorizePublish: (client, packet, done) => this.onPublish(client, packet, done),
      // Answers go to their one requester (client.publish), never through topic routing.
      authorizeForward: (_client, packet) => ((packet as { clientId?: string }).clientId ? null : packet),
    });
    this.broker = broker;
    (broker as unknown as NodeJS.EventEmitter).on('error', (err: Error) => this.log.error({ err }, 'DPS broker error'));
    const server = createTlsServer({ cert: tls.serverCertPem, key: tls.serverKeyPem, minVersion: 'TLSv1.2', requestCert: true, rejectUnauthorized: false }, (socket: TLSSocket) => {
      broker.handle(new FaultConnection(socket));
    });
    server.on('connection', (raw: Socket) => {
      this.sockets.add(raw);
      raw.once('close', () => this.sockets.delete(raw));
    });
    server.on('tlsClientError', (err) => this.log.debug({ err: err.message }, 'DPS TLS handshake failed'));
    this.server = server;
    await listen(server, port, host, 'DPS MQTT');
    this.mqttPort = (server.address() as AddressInfo).port;
  }

  private async authenticate(client: Client, username: string | undefined, password: Buffer | undefined): Promise<void> {
    const registrationId = client.id;
    this.connectionCounts.set(registrationId, this.connections(registrationId) + 1);
    this.emit('connection', registrationId);
    const m = /^([^/]+)\/registrations\/([^/]+)\/api-version=/.exec(username ?? '');
    if (!m || m[2] !== registrationId) throw new Error('username is not {idScope}/registrations/{registrationId}/api-version=… for this client id');
    if (m[1] !== this.idScope) throw new Error(`unknown ID scope ${m[1]}`);
    let match: EnrollmentMatch | undefined;
    if (password && password.length > 0) {
      const token = parseSasToken(password.toString('utf8'));
      if (!token) throw new Error('password is not a SharedAccessSignature');
      if (token.resource !== `${this.idScope}/registrations/${registrationId}`) throw new Error(`SAS resource ${token.resource} is not this registration`);
      if (token.expiry * 1000 <= this.clock.now()) throw new Error('SAS token expired');
      const verify = (key: string): boolean => {
        const sig = createHmac('sha256', Buffer.from(key, 'base64')).update(`${token.rawResource}\n${token.expiry}`).digest();
        return sig.length === token.signature.length && timingSafeEqual(sig, token.signature);
      };
      match = await this.enrollments.matchKey(registrationId, verify);
      if (!match) throw new Error('no enrollment accepts this key');
    } else {
      const socket = (client.conn as FaultConnection).socket as TLSSocket;
      const raw = socket.getPeerCertificate?.().raw;
      if (!raw) throw new Error('no SAS token and no client certificate');
      match = await this.enrollments.matchCertificate(registrationId, new X509Certificate(raw));
      if (!match) throw new Error('no enrollment accepts this certificate (the registration id must be its CN)');
    }
    this.matches.set(client, match);
  }

  private onPublish(client: Client | null, packet: PublishPacket, done: (err?: Error | null) => void): void {
    if (!client) return done(null);
    const register = REGISTER.exec(packet.topic);
    const status = OPERATION_STATUS.exec(packet.topic);
    if (!register && !status) return done(new Error(`publishing to ${packet.topic} is not allowed`));
    const query = new URLSearchParams((register ?? status)![1]);
    const rid = query.get('$rid') ?? '';
    // Acknowledged here (QoS 1), answered below on the response topic.
    if (packet.qos === 1 && packet.messageId !== undefined) client.conn.write(pubackBytes(packet.messageId));
    packet.qos = 0;
    done(null);
    const work = register ? this.register(client) : this.operationStatus(query.get('operationId') ?? '');
    work.then(
      (answer) => this.answer(client, rid, answer),
      (err: unknown) => {
        this.log.error({ err: errorMessage(err), registrationId: client.id }, 'DPS request failed');
        this.answer(client, rid, { status: 500, body: { errorCode: 500000, message: errorMessage(err) } });
      },
    );
  }

  private answer(client: Client, rid: string, a: { status: number; body: unknown; retryAfterSeconds?: number }): void {
    const topic = `$dps/registrations/res/${a.status}/?$rid=${rid}${a.retryAfterSeconds !== undefined ? `&retry-after=${a.retryAfterSeconds}` : ''}`;
    client.publish({ cmd: 'publish', topic, payload: Buffer.from(JSON.stringify(a.body)), qos: 0, retain: false, dup: false }, () => undefined);
  }

  private async register(client: Client): Promise<{ status: number; body: unknown; retryAfterSeconds?: number }> {
    const registrationId = client.id;
    const fault = this.faults.next();
    if (fault) {
      this.emit('refused', registrationId, `fault: ${fault.status} ${fault.message}`);
      return { status: fault.status, body: { errorCode: fault.status * 1000, message: fault.message }, ...(fault.retryAfterSeconds !== undefined ? { retryAfterSeconds: fault.retryAfterSeconds } : {}) };
    }
    const match = this.matches.get(client)!;
    const previous = this.registrations.get(registrationId);
    const hub = this.allocate(previous);
    if (match.thumbprint) await hub.registerX509Device(match.deviceId, match.thumbprint);
    else await hub.registerDevice(match.deviceId, match.primaryKey);
    const record = await this.registrations.record(
      {
        registrationId,
        deviceId: match.deviceId,
        assignedHub: hub.hostName,
        enrollment: `${match.kind}:${match.id}`,
        substatus: previous && previous.assignedHub !== hub.hostName ? 'deviceDataMigrated' : 'initialAssignment',
      },
      this.clock.now(),
    );
    const operationId = `4.${randomUUID()}`;
    this.operations.set(operationId, { record });
    this.log.info({ registrationId, assignedHub: hub.hostName, deviceId: match.deviceId }, 'device registered');
    this.emit('registered', record);
    return { status: 202, body: { operationId, status: 'assigning' }, retryAfterSeconds: this.pollAfterSeconds };
  }

  /** Evenly weighted allocation, sticky on re-registration unless the fault moves it on. */
  private allocate(previous: RegistrationRecord | undefined): AssignableHub {
    const hubs = this.options.hubs;
    const at = previous ? hubs.findIndex((h) => h.hostName === previous.assignedHub) : -1;
    if (at >= 0) return this.faults.moveOnReprovision ? hubs[(at + 1) % hubs.length]! : hubs[at]!;
    const load = (h: AssignableHub): number => this.registrations.list().filter((r) => r.assignedHub === h.hostName).length;
    return hubs.reduce((best, h) => (load(h) < load(best) ? h : best), hubs[0]!);
  }

  private async operationStatus(operationId: string): Promise<{ status: number; body: unknown }> {
    const op = this.operations.get(operationId);
    if (!op) return { status: 404, body: { errorCode: 404000, message: `no operation ${operationId}` } };
    this.operations.delete(operationId);
    const r = op.record;
    const registrationState = {
      registrationId: r.registrationId,
      createdDateTimeUtc: new Date(r.createdAt).toISOString(),
      assignedHub: r.assignedHub,
      deviceId: r.deviceId,
      status: 'assigned',
      substatus: r.substatus,
      lastUpdatedDateTimeUtc: new Date(r.lastUpdatedAt).toISOString(),
      etag: Buffer.from(String(r.lastUpdatedAt)).toString('base64'),
    };
    return { status: 200, body: { operationId, status: 'assigned', registrationState } };
  }
}
