import type { TLSSocket } from 'node:tls';
import type { AedesOptions, AuthenticateError, Client, PublishPacket, Subscription } from 'aedes';
import type { Clock } from '../../agent/core/clock.js';
import type { Logger } from '../../agent/core/logger.js';
import { normalizeThumbprint, type DeviceRegistry } from './device-registry.js';
import type { FaultConnection } from './fault-connection.js';
import type { FaultInjector } from './faults.js';
import type { MethodCalls } from './methods.js';
import type { TwinHandler } from './twin-handler.js';
import { MAX_MESSAGE_BYTES, pubackBytes, type TelemetryHandler } from './telemetry.js';
import { parseSasToken, verifySasToken } from './sas.js';
import { mayDeviceSubscribe, parseDevicePublish, parseUsername } from './topics.js';

/**
 * IoT Hub's MQTT device surface as aedes hooks: who may connect (SAS), what a device may
 * subscribe to (its own topics), and what its PUBLISHes mean (telemetry, twin requests, method
 * answers). Every device PUBLISH is consumed here; none is routed to other clients.
 */
export interface GatewayDeps {
  registry: DeviceRegistry;
  clock: Clock;
  faults: FaultInjector;
  telemetry: TelemetryHandler;
  twin: TwinHandler;
  methods: MethodCalls;
  log: Logger;
  /** Host names this hub answers to (`localhost:PORT`, …), compared case-insensitively. */
  hostNames: () => readonly string[];
  onRefused: (deviceId: string, reason: string) => void;
}

/** CONNACK return codes IoT Hub uses. */
const SERVER_UNAVAILABLE = 3;
const NOT_AUTHORIZED = 5;

export type BrokerHooks = Required<Pick<AedesOptions, 'preConnect' | 'authenticate' | 'authorizePublish' | 'authorizeSubscribe' | 'authorizeForward'>>;

export interface DeviceGateway {
  hooks: BrokerHooks;
  /** SAS expiry (epoch ms) of an authenticated client, for the session's expiry timer. */
  tokenExpiry(client: Client): number | undefined;
}

/** SHA-256 thumbprint of the TLS client certificate, if the device presented one. */
function peerThumbprint(client: Client): string | undefined {
  const socket = (client.conn as FaultConnection).socket as TLSSocket | undefined;
  const cert = typeof socket?.getPeerCertificate === 'function' ? socket.getPeerCertificate() : undefined;
  return cert && cert.fingerprint256 ? normalizeThumbprint(cert.fingerprint256) : undefined;
}

export function createDeviceGateway(deps: GatewayDeps): DeviceGateway {
  const expiries = new WeakMap<Client, number>();
  const { log } = deps;

  const authenticate: BrokerHooks['authenticate'] = (client, username, password, done) => {
    const refuse = (code: number, reason: string): void => {
      log.info({ deviceId: client.id, reason }, 'connection refused');
      deps.onRefused(client.id, reason);
      const err = Object.assign(new Error(reason), { returnCode: code }) as AuthenticateError;
      done(err, false);
    };
    if (deps.faults.refusing() === 'server-unavailable') return refuse(SERVER_UNAVAILABLE, 'fault: refusing connections');
    const user = parseUsername(username ?? '');
    if (!user || user.deviceId !== client.id) return refuse(NOT_AUTHORIZED, 'username is not <host>/<deviceId>/?api-version=… for this client id');
    if (!deps.hostNames().some((h) => h.toLowerCase() === user.host.toLowerCase())) {
      return refuse(NOT_AUTHORIZED, `host ${user.host} is not this hub`);
    }
    const identity = deps.registry.get(user.deviceId);
    if (!identity) return refuse(NOT_AUTHORIZED, 'device is not registered');
    // X.509: an empty password and a TLS client certificate whose thumbprint is the device's.
    if (!password || password.length === 0) {
      if (!identity.x509Thumbprint) return refuse(NOT_AUTHORIZED, 'no SAS token, and the device is not registered for X.509');
      const thumbprint = peerThumbprint(client);
      if (!thumbprint) return refuse(NOT_AUTHORIZED, 'no SAS token and no client certificate');
      if (thumbprint !== identity.x509Thumbprint) return refuse(NOT_AUTHORIZED, 'client certificate thumbprint does not match the device');
      expiries.set(client, Number.MAX_SAFE_INTEGER); // no token to expire
      return done(null, true);
    }
    const token = parseSasToken(password ? password.toString('utf8') : '');
    if (!token) return refuse(NOT_AUTHORIZED, 'password is not a SharedAccessSignature');
    const verdict = verifySasToken(token, {
      host: user.host,
      deviceId: user.deviceId,
      keys: [identity.primaryKey, identity.secondaryKey],
      nowMs: deps.clock.now(),
    });
    if (!verdict.ok) return refuse(NOT_AUTHORIZED, `SAS token ${verdict.reason}`);
    expiries.set(client, token.expiry * 1000);
    done(null, true);
  };

  const authorizeSubscribe: BrokerHooks['authorizeSubscribe'] = (client, sub: Subscription, done) => {
    if (!mayDeviceSubscribe(client.id, sub.topic)) {
      log.info({ deviceId: client.id, topic: sub.topic }, 'subscription refused');
      done(null, null); // SUBACK failure (0x80) for this filter
      return;
    }
    // IoT Hub grants at most QoS 1.
    done(null, { ...sub, qos: sub.qos > 1 ? 1 : sub.qos });
  };

  const authorizePublish: BrokerHooks['authorizePublish'] = (client, packet: PublishPacket, done) => {
    // Broker-internal publishes ($SYS, wills on behalf of a closed client) carry no client.
    if (!client) return done(null);
    const deviceId = client.id;
    // IoT Hub closes the connection on QoS 2, foreign topics and oversized messages.
    if (packet.qos === 2) return done(new Error('QoS 2 is not supported'));
    const what = parseDevicePublish(deviceId, packet.topic);
    if (!what) return done(new Error(`publishing to ${packet.topic} is not allowed`));
    const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload, 'utf8') : Buffer.from(packet.payload);
    if (payload.length > MAX_MESSAGE_BYTES) return done(new Error(`message of ${payload.length} bytes exceeds ${MAX_MESSAGE_BYTES}`));
    const qos = packet.qos;
    const messageId = packet.messageId;
    // From here the hub owns the packet: aedes must neither ack it (we ack after storing) nor
    // keep it as a QoS 1 message.
    packet.qos = 0;
    packet.retain = false;
    const ackNow = (): void => {
      if (qos === 1 && messageId !== undefined && !client.closed) client.conn.write(pubackBytes(messageId));
    };
    switch (what.kind) {
      case 'telemetry':
        try {
          deps.telemetry.handle({ deviceId, client, messageId, qos, propertyBag: what.propertyBag, payload }, () => done(null));
        } catch (err) {
          done(err instanceof Error ? err : new Error(String(err)));
        }
        return;
      case 'twin-get':
        deps.twin.onGet(deviceId, what.rid).then(ackNow, (err: unknown) => log.error({ err, deviceId }, 'twin GET failed'));
        return done(null);
      case 'twin-patch-reported':
        deps.twin
          .onPatchReported(deviceId, what.rid, payload)
          .then(ackNow, (err: unknown) => log.error({ err, deviceId }, 'twin reported PATCH failed'));
        return done(null);
      case 'method-response':
        deps.methods.onResponse(deviceId, what.rid, what.status, payload);
        ackNow();
        return done(null);
    }
  };

  return {
    hooks: {
      preConnect: (_client, _packet, done) => done(null, true),
      authenticate,
      authorizeSubscribe,
      authorizePublish,
      // Device PUBLISHes carry the publisher's id; IoT Hub has no device-to-device routing, so
      // none of them is ever forwarded. What the hub itself sends goes to one client directly.
      authorizeForward: (_client, packet) => ((packet as { clientId?: string }).clientId ? null : packet),
    },
    tokenExpiry: (client) => expiries.get(client),
  };
}
