import type { HubEvent, MessageLogReader } from '../../iothub/hub-event.js';
import type { ReconcilerSource, SourceBatch, SourceEvent } from '../source.js';

/**
 * The embedded default: reads the IoT Hub emulator's message log directly. Partition ids are the
 * log's partition numbers as strings, matching what Event Hubs calls them.
 */
export class MessageLogSource implements ReconcilerSource {
  readonly id: string;

  constructor(
    private readonly log: MessageLogReader,
    id = 'message-log',
  ) {
    this.id = id;
  }

  async open(): Promise<void> {
    // Positions come from the reconciler's store on every read; the log keeps no reader state.
  }

  async partitionIds(): Promise<string[]> {
    return Array.from({ length: this.log.partitionCount }, (_, i) => String(i));
  }

  async read(partitionId: string, from: number, max: number): Promise<SourceBatch> {
    const partition = Number(partitionId);
    if (!Number.isInteger(partition) || partition < 0 || partition >= this.log.partitionCount) {
      throw new TypeError(`no partition ${partitionId} in a log of ${this.log.partitionCount}`);
    }
    const events = (await this.log.read(partition, from, max)).map(toSourceEvent);
    const last = events.at(-1);
    return { partitionId, events, next: last ? last.sequenceNumber + 1 : from, lastOffset: last ? last.offset : null };
  }

  async partitionEnd(partitionId: string): Promise<number | undefined> {
    const partition = Number(partitionId);
    return Number.isInteger(partition) && partition >= 0 && partition < this.log.partitionCount ? this.log.endOf(partition) : undefined;
  }

  async close(): Promise<void> {
    // The log belongs to whoever opened it (the emulator or the CLI), not to this reader.
  }
}

function toSourceEvent(e: HubEvent): SourceEvent {
  return {
    partitionId: String(e.partition),
    sequenceNumber: e.sequenceNumber,
    offset: String(e.offset),
    enqueuedTime: e.enqueuedTime,
    deviceId: e.deviceId,
    systemProperties: e.systemProperties,
    properties: e.properties,
    body: e.body,
  };
}
