/**
 * One event as the cloud reads it from IoT Hub's Event Hub-compatible endpoint, and as the
 * emulator's message log stores it. Partitions are chosen by hashing the device id, so one
 * device's messages stay in order within one partition.
 */
export interface HubEvent {
  partition: number;
  /** Position within the partition, from 0, dense; what a reader resumes from. */
  sequenceNumber: number;
  /** Byte offset within the partition's log (Event Hubs calls it the offset). */
  offset: number;
  /** Epoch ms at which the hub stored the message. */
  enqueuedTime: number;
  deviceId: string;
  /** IoT Hub system properties: message-id, content-type, content-encoding, iothub-connection-device-id, … */
  systemProperties: Record<string, string>;
  /** Application properties from the MQTT property bag. */
  properties: Record<string, string>;
  body: Buffer;
}

/** Read side of the message log: what the reconciler's emulator source consumes. */
export interface MessageLogReader {
  readonly partitionCount: number;
  /** Up to `max` events of `partition` with sequenceNumber ≥ `fromSequenceNumber`, in order. */
  read(partition: number, fromSequenceNumber: number, max: number): Promise<HubEvent[]>;
  /** The sequenceNumber the next appended event of `partition` will get. */
  endOf(partition: number): Promise<number>;
}
