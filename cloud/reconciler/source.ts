/**
 * Where the reconciler reads device messages from. Two implementations: the emulator's message
 * log (sources/message-log-source.ts) and IoT Hub's Event Hub-compatible endpoint
 * (sources/event-hubs-source.ts). Both are pull-shaped here so the reconciler decides the pace
 * and can commit each batch together with the position it reached (DESIGN §5).
 */

/** One device-to-cloud message as any source delivers it. */
export interface SourceEvent {
  partitionId: string;
  /** Position within the partition; increases by one per event. */
  sequenceNumber: number;
  /** The source's own position token for this event (Event Hubs offset); opaque here. */
  offset: string;
  /** Epoch ms at which the hub stored the message. */
  enqueuedTime: number;
  deviceId: string;
  /** IoT Hub system properties (content-encoding, message-id, …). */
  systemProperties: Readonly<Record<string, string>>;
  /** Application properties (the wire format puts v/kind/seqFrom/seqTo/count here). */
  properties: Readonly<Record<string, string>>;
  body: Buffer;
}

export interface SourceBatch {
  partitionId: string;
  /** In partition order; may be empty when the partition has nothing new. */
  events: SourceEvent[];
  /**
   * The checkpoint this batch reaches: the sequenceNumber to read from next. The reconciler
   * stores it in the same transaction as the data from `events`.
   */
  next: number;
  /** Offset of the last event in `events`, or null when empty; stored beside `next`. */
  lastOffset: string | null;
}

/** A committed position: what `next` was reached, and the offset of the event before it. */
export interface CommittedPosition {
  next: number;
  lastOffset: string | null;
}

/** Reads the committed checkpoints (partitionId → position) from the store. */
export type CommittedPositions = () => Promise<ReadonlyMap<string, CommittedPosition>>;

/**
 * Contract (checked by test/cloud/reconciler/source-conformance.ts for every source that can run):
 * - `open` is called once before anything else; a source that positions itself (Event Hubs)
 *   asks `committed` where to start, so the store stays the single owner of checkpoints.
 * - `partitionIds` lists the partitions this instance should read now (all of them for the
 *   message log; the ones this instance owns for Event Hubs, which moves them between instances).
 * - `read(p, from, max)` returns at most `max` events of partition `p` with
 *   sequenceNumber ≥ `from`, in order, and never blocks for long when there is nothing new.
 * - Reading the same range twice returns the same events (replay after a crash relies on it).
 */
export interface ReconcilerSource {
  /** Names the checkpoint namespace in the store, e.g. `message-log` or `event-hubs:<ns>/<hub>/<group>`. */
  readonly id: string;
  open(committed: CommittedPositions): Promise<void>;
  partitionIds(): Promise<string[]>;
  read(partitionId: string, from: number, max: number): Promise<SourceBatch>;
  /**
   * Everything of the partition below `next` is committed (the reconciler calls this after each
   * commit): a push source may forget it. Until then it must be able to give it again, because a
   * commit that failed is retried from the same position.
   */
  release?(partitionId: string, next: number): void;
  /**
   * The sequence number the partition's next event will get, as far as the source knows now
   * (undefined: not yet known). Lag is this minus the committed position; it is only reported,
   * never used to decide what to read.
   */
  partitionEnd?(partitionId: string): Promise<number | undefined>;
  close(): Promise<void>;
}
