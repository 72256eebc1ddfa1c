/** An event as the window operators see it: the payload fields, read by compiled expressions. */
export type Row = Record<string, unknown>;

/**
 * What sits behind the event-time stage (Flink's processElement / processWatermark). Events come
 * with their final time; `onWatermark(wm)` promises that no further `onEvent` has a time below
 * wm, so every window ending before wm can be emitted. `onLateEvent` is the `revise` policy's
 * path for an accepted event behind the watermark.
 */
export interface WindowOperator {
  onEvent(row: Row, t: number, seq: number): void;
  onLateEvent(row: Row, t: number, seq: number): void;
  onWatermark(wm: number): void;
  save(): unknown;
  load(state: unknown): void;
}

/** ws is exclusive (null for snapshot and non-windowed rows), we inclusive and the row's System.Timestamp(). */
export type Emit = (ws: number | null, we: number, key: string, rev: number, row: Row) => void;
