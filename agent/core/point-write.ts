import type { PointValue } from './reading.js';

/** A request to write one configured point (direct method `writePoint`, `edge-agent modbus write`). */
export interface PointWriteRequest {
  device: string;
  point: string;
  /** In engineering units (before the point's scale and offset are undone). */
  value: unknown;
  /** Who asked: the method's caller as it named itself, or `cli`. */
  by: string;
}

/** A write that was done and read back equal. */
export interface PointWriteResult {
  device: string;
  point: string;
  requested: unknown;
  /** The raw value that went into the registers (after rounding to the device's resolution). */
  written: number | boolean | string;
  /** The point read back after the write, in engineering units. */
  readBack: PointValue;
  unit?: string;
  /** Modbus function code used for the write (5, 6, 15 or 16). */
  function: number;
  at: number;
}

/** One write as the diagnostics and the audit record show it, done or not. */
export interface WriteRecord {
  at: number;
  by: string;
  /** Set where records of several drivers are listed together. */
  driver?: string;
  device: string;
  point: string;
  requested: unknown;
  outcome: 'done' | 'refused' | 'failed';
  readBack?: PointValue;
  error?: { code: string; message: string };
}

/**
 * A driver that can write its points. `writePoint` rejects with an `EdgeError`:
 * `EDGE_WRITE_REFUSED` (not writable, out of range, a value the registers cannot hold),
 * `EDGE_DEVICE_EXCEPTION` (the device refused, its message naming the exception),
 * `EDGE_WRITE_UNVERIFIED` (read back different), or another `EDGE_DEVICE_*` (no answer).
 */
export interface PointWriter {
  writePoint(request: PointWriteRequest): Promise<PointWriteResult>;
  /** The last write of each point (diagnostics: `edge-agent sensors`). */
  lastWrites(): WriteRecord[];
}

export function isPointWriter(x: unknown): x is PointWriter {
  return typeof x === 'object' && x !== null && typeof (x as PointWriter).writePoint === 'function' && typeof (x as PointWriter).lastWrites === 'function';
}
