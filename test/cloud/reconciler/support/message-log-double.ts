import type { HubEvent, MessageLogReader } from '../../../../cloud/iothub/hub-event.js';
import type { Telemetry } from './wire-builder.js';

/**
 * TEST DOUBLE of the emulator's message log (the MessageLogReader contract of
 * cloud/iothub/hub-event.ts), in memory. Used where a test needs a log it can append to with
 * chosen enqueued times (multi-day backlogs) without the emulator; integration tests use the
 * emulator's real on-disk log.
 */
export class InMemoryMessageLogDouble implements MessageLogReader {
  private readonly partitions: HubEvent[][];
  private readonly offsets: number[];

  constructor(readonly partitionCount = 4) {
    this.partitions = Array.from({ length: partitionCount }, () => []);
    this.offsets = Array.from({ length: partitionCount }, () => 0);
  }

  append(t: Telemetry, enqueuedTime: number): HubEvent {
    const partition = hashPartition(t.deviceId, this.partitionCount);
    const list = this.partitions[partition]!;
    const event: HubEvent = {
      partition,
      sequenceNumber: list.length,
      offset: this.offsets[partition]!,
      enqueuedTime,
      deviceId: t.deviceId,
      systemProperties: { ...t.systemProperties, 'iothub-connection-device-id': t.deviceId },
      properties: t.properties,
      body: t.body,
    };
    this.offsets[partition]! += t.body.length + 64;
    list.push(event);
    return event;
  }

  async read(partition: number, fromSequenceNumber: number, max: number): Promise<HubEvent[]> {
    const list = this.partitions[partition];
    if (!list) throw new TypeError(`no partition ${partition}`);
    return list.slice(Math.max(0, fromSequenceNumber), Math.max(0, fromSequenceNumber) + max);
  }

  async endOf(partition: number): Promise<number> {
    return this.partitions[partition]?.length ?? 0;
  }

  get size(): number {
    return this.partitions.reduce((n, p) => n + p.length, 0);
  }
}

/** FNV-1a, as the emulator hashes device ids to partitions: one device, one partition. */
export function hashPartition(deviceId: string, count: number): number {
  let h = 0x811c9dc5;
  for (const byte of Buffer.from(deviceId, 'utf8')) {
    h ^= byte;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h % count;
}
