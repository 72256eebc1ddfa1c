import type { Gap } from './gaps.js';

/**
 * Where reconciled data lives. Two implementations behind this interface: SQLite
 * (stores/sqlite-store.ts, the default) and PostgreSQL (stores/postgres-store.ts). Both are
 * checked by one conformance suite (test/cloud/reconciler/store-conformance.ts).
 */

/** One window result, the latest revision seen for its key. */
export interface ResultRow {
  device: string;
  query: string;
  out: string;
  /** GROUP BY key as canonical JSON (as the device sent it). */
  key: string;
  /** Window start (exclusive); null for snapshot windows. */
  ws: number | null;
  /** Window end (inclusive) = System.Timestamp() of the result. */
  we: number;
  rev: number;
  /** Seq of the record that carried this revision (ties on rev go to the higher seq). */
  seq: number;
  row: Record<string, unknown>;
  enqueuedTime: number;
}

export interface ReadingRow {
  device: string;
  seq: number;
  src: string;
  pt: string;
  /** Application time: readings are kept (and indexed) by it, not by arrival. */
  t: number;
  at: number;
  v: number | boolean | string | null;
  q: 'good' | 'bad';
  err: string | null;
  u: string | null;
}

export interface EventRow {
  device: string;
  seq: number;
  kind: 'event' | 'health';
  t: number;
  name: string;
  data: Record<string, unknown>;
}

/** Everything the reconciler knows about one device; persisted whole on every change. */
export interface DeviceState {
  device: string;
  /** Boot id of the message holding the device's highest seq. */
  boot: string;
  /**
   * Boot changes seen at the device's highest seq, plus one (a reboot is not a gap). A boot
   * whose messages all arrive behind a later boot's (an outage backlog) is not counted.
   */
  boots: number;
  /** Highest seq seen, or firstSeq − 1 before any. */
  maxSeq: number;
  /** Distinct records accepted. */
  records: number;
  duplicates: number;
  /** Seqs the device declared evicted (sum of lost gap sizes). */
  lostRecords: number;
  firstEnqueued: number;
  lastEnqueued: number;
  /** Application-time lead over the hub's enqueued time in the latest message. */
  clockAheadMs: number;
  clockSkewed: boolean;
  gaps: Gap[];
}

export interface Checkpoint {
  partitionId: string;
  /** Next sequenceNumber to read. */
  next: number;
  /** The source's offset token of the last event read (Event Hubs resumes from offsets). */
  lastOffset?: string | null;
  /**
   * Compare-and-set: the `next` this batch started from (null = no checkpoint yet). When the
   * stored value differs, another reconciler instance moved the partition on, and the commit
   * fails with EDGE_STORE_LOCKED instead of counting its records a second time.
   */
  expectedNext?: number | null;
}

/**
 * One atomic unit of work. `checkpoints` are committed in the same transaction as the rows they
 * cover, so a crash either keeps both or neither and a restart replays without double counting.
 */
export interface CommitBatch {
  source: string;
  checkpoints: Checkpoint[];
  /** At most one row per result key (the reconciler collapses a batch first). */
  results: ResultRow[];
  readings: ReadingRow[];
  events: EventRow[];
  /** Devices whose state changed, stored whole (gaps included). */
  devices: DeviceState[];
}

export interface ResultFilter {
  device?: string;
  query?: string;
  /** Window end ≥ from (epoch ms). */
  from?: number;
  /** Window end ≤ to (epoch ms). */
  to?: number;
  limit?: number;
}

export interface GapRow extends Gap {
  device: string;
  size: number;
}

export interface RowCounts {
  results: number;
  readings: number;
  events: number;
}

export interface StoreState {
  /** partitionId → next sequenceNumber, for the source asked. */
  checkpoints: Map<string, number>;
  /** partitionId → offset of the last event read, where the source gave one. */
  lastOffsets: Map<string, string>;
  devices: DeviceState[];
}

/**
 * Contract:
 * - `migrate` creates the schema if missing and is safe to call on every start.
 * - `commit` is all-or-nothing, and refuses (EDGE_STORE_LOCKED) when a checkpoint's
 *   `expectedNext` does not match the stored one. A result row replaces the stored one only when its
 *   (rev, seq) is higher, so applying the same batch twice changes nothing.
 * - Readers (`results`, `gaps`, `devices`) see only committed data; results come sorted by
 *   device, query, out, key, window end.
 */
export interface ReconcilerStore {
  /** `sqlite` or `postgres`: shown in logs and benchmark rows. */
  readonly kind: string;
  migrate(): Promise<void>;
  load(source: string): Promise<StoreState>;
  /** Just the checkpoints of `source` (what a source asks on every partition claim). */
  loadCheckpoints(source: string): Promise<Pick<StoreState, 'checkpoints' | 'lastOffsets'>>;
  commit(batch: CommitBatch): Promise<void>;
  results(filter?: ResultFilter): Promise<ResultRow[]>;
  readings(device?: string): Promise<ReadingRow[]>;
  events(device?: string): Promise<EventRow[]>;
  gaps(): Promise<GapRow[]>;
  devices(): Promise<DeviceState[]>;
  rowCounts(): Promise<RowCounts>;
  /** The per-query views' shapes as last written (views.ts). */
  viewSpecs?(): Promise<ViewSpec[]>;
  /** Records the shapes and (re)creates those views, in one transaction. */
  writeViews?(specs: readonly ViewSpec[], latenessMs: (query: string) => number): Promise<void>;
  /** A view's rows, ordered by device, window end and keys; undefined when it does not exist. */
  viewRows?(query: string, out: string, filter?: { device?: string; limit?: number }): Promise<ViewRows | undefined>;
  close(): Promise<void>;
}

/** The shape of one query output's view (built by views.ts). */
export type ColumnType = 'number' | 'boolean' | 'text' | 'time';

export interface ViewColumn {
  alias: string;
  type: ColumnType;
}

export interface ViewSpec {
  query: string;
  out: string;
  /** GROUP BY values per key (key_1 … key_n). */
  keyCount: number;
  columns: ViewColumn[];
}

export interface ViewRows {
  name: string;
  columns: string[];
  rows: Array<Record<string, unknown>>;
}

/** Storage key for a window start: SQL unique indexes treat NULLs as distinct, so snapshot windows get a sentinel. */
export const SNAPSHOT_WS_KEY = Number.MIN_SAFE_INTEGER;

export function wsKey(ws: number | null): number {
  return ws ?? SNAPSHOT_WS_KEY;
}
