import { EdgeError } from '../../../agent/core/errors.js';
import type { Gap, GapState } from '../gaps.js';
import { contiguousSeq, openGapCount } from '../gaps.js';
import type { DeviceState, EventRow, GapRow, ReadingRow, ResultRow } from '../store.js';

/**
 * Maps SQL rows (snake_case, as both stores select them) to the store's types. SQLite hands back
 * JSON columns as text and PostgreSQL as parsed values, so each store passes its own `json`.
 */
export type SqlRow = Record<string, unknown>;
type Json = (v: unknown) => unknown;

const num = (v: unknown): number => (typeof v === 'number' ? v : Number(v));
const numOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : num(v));
const str = (v: unknown): string => String(v);
const strOrNull = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));

export function toResultRow(r: SqlRow, json: Json): ResultRow {
  return {
    device: str(r.device),
    query: str(r.query),
    out: str(r.out),
    key: str(r.key),
    ws: numOrNull(r.ws),
    we: num(r.we),
    rev: num(r.rev),
    seq: num(r.seq),
    row: json(r.row) as Record<string, unknown>,
    enqueuedTime: num(r.enqueued_time),
  };
}

export function toReadingRow(r: SqlRow, json: Json): ReadingRow {
  return {
    device: str(r.device),
    seq: num(r.seq),
    src: str(r.src),
    pt: str(r.pt),
    t: num(r.t),
    at: num(r.at),
    v: json(r.v) as ReadingRow['v'],
    q: str(r.q) as ReadingRow['q'],
    err: strOrNull(r.err),
    u: strOrNull(r.u),
  };
}

export function toEventRow(r: SqlRow, json: Json): EventRow {
  return {
    device: str(r.device),
    seq: num(r.seq),
    kind: str(r.kind) as EventRow['kind'],
    t: num(r.t),
    name: str(r.name),
    data: json(r.data) as Record<string, unknown>,
  };
}

function toGap(r: SqlRow): Gap {
  return {
    from: num(r.from_seq),
    to: num(r.to_seq),
    state: str(r.state) as GapState,
    openedAt: num(r.opened_at),
    requestedAt: numOrNull(r.requested_at),
    attempts: num(r.attempts),
    closedAt: numOrNull(r.closed_at),
  };
}

export function toGapRow(r: SqlRow): GapRow {
  const g = toGap(r);
  return { ...g, device: str(r.device), size: g.to - g.from + 1 };
}

/** Builds device states from their rows and all gap rows (sorted by device, from_seq). */
export function toDeviceStates(deviceRows: SqlRow[], gapRows: SqlRow[]): DeviceState[] {
  const gaps = new Map<string, Gap[]>();
  for (const g of gapRows) {
    const d = str(g.device);
    let list = gaps.get(d);
    if (!list) gaps.set(d, (list = []));
    list.push(toGap(g));
  }
  return deviceRows.map((r) => ({
    device: str(r.device),
    boot: str(r.boot),
    boots: num(r.boots),
    maxSeq: num(r.max_seq),
    records: num(r.records),
    duplicates: num(r.duplicates),
    lostRecords: num(r.lost_records),
    firstEnqueued: num(r.first_enqueued),
    lastEnqueued: num(r.last_enqueued),
    clockAheadMs: num(r.clock_ahead_ms),
    clockSkewed: r.clock_skewed === true || r.clock_skewed === 1,
    gaps: gaps.get(str(r.device)) ?? [],
  }));
}

/** The derived columns stored beside a device for people querying SQL directly. */
export function deviceSummary(d: DeviceState): { contiguousSeq: number; openGaps: number } {
  return { contiguousSeq: contiguousSeq(d.gaps, d.maxSeq), openGaps: openGapCount(d.gaps) };
}

/** Checkpoint rows (partition_id, next_seq, last_offset) as the maps StoreState holds. */
export function checkpointMaps(rows: SqlRow[]): { checkpoints: Map<string, number>; lastOffsets: Map<string, string> } {
  const checkpoints = new Map<string, number>();
  const lastOffsets = new Map<string, string>();
  for (const r of rows) {
    checkpoints.set(str(r.partition_id), num(r.next_seq));
    if (r.last_offset !== null && r.last_offset !== undefined) lastOffsets.set(str(r.partition_id), str(r.last_offset));
  }
  return { checkpoints, lastOffsets };
}

/** The checkpoint compare-and-set both stores apply before writing a batch. */
export function checkExpected(source: string, partitionId: string, expected: number | null, stored: number | null): void {
  if (expected === stored) return;
  throw new EdgeError(
    'EDGE_STORE_LOCKED',
    `checkpoint of ${source} partition ${partitionId} is at ${stored ?? 'none'}, this batch started at ${expected ?? 'none'}: ` +
      'another reconciler instance is reading this partition',
  );
}
