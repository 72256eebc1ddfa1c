import type { Client } from 'aedes';
import type { Clock, TimerHandle } from '../../agent/core/clock.js';
import type { FaultConnection } from './fault-connection.js';

/**
 * Which devices are online, on which connection. IoT Hub allows one connection per device; a new
 * CONNECT with the same id takes over (aedes closes the old client). Everything the hub sends to
 * one device (twin responses, method calls, desired patches, C2D) goes through here straight to
 * that device's client, never through topic routing, so a response can only reach its requester
 * even though every device subscribes to the same `$iothub/...` filters.
 */
export interface DeviceSession {
  deviceId: string;
  client: Client;
  wire: FaultConnection;
  connectedAt: number;
  /** SAS expiry (epoch ms): the hub drops the connection then, as IoT Hub does. */
  tokenExpiresAt: number;
  expiryTimer?: TimerHandle;
}

export interface OutboundPacket {
  topic: string;
  payload: Buffer;
  qos: 0 | 1;
}

/** The client's current subscriptions (aedes keeps them on the client; its types omit them). */
function clientSubscriptions(client: Client): Record<string, unknown> {
  return (client as unknown as { subscriptions: Record<string, unknown> }).subscriptions;
}

const MAX_TIMER_MS = 0x7fffffff;

export class DeviceSessions {
  private readonly byDevice = new Map<string, DeviceSession>();

  constructor(private readonly clock: Clock) {}

  /** Records a device as online once its CONNACK went out. Replaces a previous session. */
  add(session: DeviceSession, onExpiry: (s: DeviceSession) => void): void {
    const old = this.byDevice.get(session.deviceId);
    if (old?.expiryTimer) this.clock.clearTimeout(old.expiryTimer);
    const delay = session.tokenExpiresAt - this.clock.now();
    // Timers cannot span more than ~24.8 days; a token living longer is simply not timed out.
    if (delay <= MAX_TIMER_MS) session.expiryTimer = this.clock.setTimeout(() => onExpiry(session), Math.max(0, delay));
    this.byDevice.set(session.deviceId, session);
  }

  /** Forgets the session if `client` is still the device's current one (a takeover may have replaced it). */
  remove(deviceId: string, client: Client): DeviceSession | undefined {
    const s = this.byDevice.get(deviceId);
    if (!s || s.client !== client) return undefined;
    if (s.expiryTimer) this.clock.clearTimeout(s.expiryTimer);
    this.byDevice.delete(deviceId);
    return s;
  }

  get(deviceId: string): DeviceSession | undefined {
    const s = this.byDevice.get(deviceId);
    return s && !s.client.closed ? s : undefined;
  }

  /** True when the device is online and subscribed to `filter`. */
  isSubscribed(deviceId: string, filter: string): boolean {
    const s = this.get(deviceId);
    return s !== undefined && filter in clientSubscriptions(s.client);
  }

  /** Sends to one device's connection. Resolves false when the device is not online. */
  send(deviceId: string, packet: OutboundPacket): Promise<boolean> {
    const s = this.get(deviceId);
    if (!s) return Promise.resolve(false);
    return new Promise((resolve) => {
      s.client.publish({ cmd: 'publish', topic: packet.topic, payload: packet.payload, qos: packet.qos, retain: false, dup: false }, (err) =>
        resolve(!err),
      );
    });
  }

  all(): DeviceSession[] {
    return [...this.byDevice.values()].filter((s) => !s.client.closed);
  }

  clear(): void {
    for (const s of this.byDevice.values()) if (s.expiryTimer) this.clock.clearTimeout(s.expiryTimer);
    this.byDevice.clear();
  }
}
