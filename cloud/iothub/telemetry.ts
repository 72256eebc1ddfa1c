import type { Client } from 'aedes';
import type { HubEvent } from './hub-event.js';
import type { MessageLog } from './message-log.js';
import type { FaultInjector } from './faults.js';
import { decodePropertyBag } from './property-bag.js';

/**
 * Device-to-cloud telemetry: store in the message log, then acknowledge.
 *
 * The emulator writes the PUBACK itself rather than letting aedes do it, because aedes acks a
 * QoS 1 PUBLISH as soon as its authorizePublish hook returns. Taking the ack over lets the
 * connection keep reading while the log syncs (so one device's pipelined messages share an
 * fsync), lets a fault hold the ack back after the message is stored, and still guarantees
 * what IoT Hub guarantees: PUBACK ⇒ stored.
 */
export const MAX_MESSAGE_BYTES = 256 * 1024;

/** Appends in flight per connection before the emulator stops reading from it (backpressure). */
const MAX_UNSYNCED_PER_CONNECTION = 256;

export interface TelemetryInput {
  deviceId: string;
  client: Client;
  messageId: number | undefined;
  qos: 0 | 1;
  propertyBag: string;
  payload: Buffer;
}

export interface TelemetryDeps {
  log: MessageLog;
  faults: FaultInjector;
  onStored: (event: HubEvent) => void;
  onFailure: (client: Client, err: unknown) => void;
}

/** PUBACK is four bytes: type 4 with flags 0, remaining length 2, packet id. */
export function pubackBytes(messageId: number): Buffer {
  return Buffer.from([0x40, 0x02, (messageId >> 8) & 0xff, messageId & 0xff]);
}

export class TelemetryHandler {
  private readonly unsynced = new WeakMap<Client, number>();

  constructor(private readonly deps: TelemetryDeps) {}

  /**
   * Starts storing one message. `proceed` lets aedes read on: at once, unless this connection
   * already has {@link MAX_UNSYNCED_PER_CONNECTION} appends waiting for the disk, in which case
   * only after this one is stored. Throws (synchronously) for a property bag that is not valid
   * url-encoding: the caller refuses the PUBLISH by dropping the connection.
   */
  handle(input: TelemetryInput, proceed: () => void): void {
    const { systemProperties, properties } = decodePropertyBag(input.propertyBag);
    const n = (this.unsynced.get(input.client) ?? 0) + 1;
    this.unsynced.set(input.client, n);
    const throttle = n > MAX_UNSYNCED_PER_CONNECTION;
    if (!throttle) proceed();
    // Order matters: append() assigns the sequence number now, so messages read in order from
    // one connection are stored in that order.
    this.deps.log.append({ deviceId: input.deviceId, systemProperties, properties, body: input.payload }).then(
      (event) => {
        this.unsynced.set(input.client, (this.unsynced.get(input.client) ?? 1) - 1);
        this.deps.onStored(event);
        if (input.qos === 1 && input.messageId !== undefined) this.ack(input.deviceId, input.client, input.messageId);
        if (throttle) proceed();
      },
      (err: unknown) => {
        this.unsynced.set(input.client, (this.unsynced.get(input.client) ?? 1) - 1);
        // Not stored, so never acked: the device will resend after reconnecting.
        this.deps.onFailure(input.client, err);
        if (throttle) proceed();
      },
    );
  }

  private ack(deviceId: string, client: Client, messageId: number): void {
    const send = (): void => {
      // An ack for a connection that has gone is lost, as on a real network.
      if (!client.closed && !client.conn.destroyed) client.conn.write(pubackBytes(messageId));
    };
    if (this.deps.faults.isHoldingAcks(deviceId)) this.deps.faults.park(deviceId, send);
    else send();
  }
}
