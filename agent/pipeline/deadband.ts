import type { DeadbandRule, DeadbandSpec, DriverDeadbands } from '../../drivers/registry.js';
import type { PointValue, Quality, StampedReading } from '../core/reading.js';
import type { JournalEntry } from '../journal/journal.js';
import type { RecordDraft } from '../outbox/outbox.js';
import { readingRecord } from './reading-records.js';

/**
 * Report-by-exception on what is forwarded: a reading becomes a `reading` record only when its
 * point moved past its deadband, changed quality (or error), went `maxSilenceMs` without one,
 * or is the first the filter sees. Analytics is fed before this filter, so it sees every reading.
 * Time is the readings' own application time: no clock, so a replay decides the same.
 */

const key = (driver: string, source: string, point: string) => `${driver}\u0000${source}\u0000${point}`;

/** The configured deadbands, by the driver name readings carry. */
export class DeadbandRules {
  private readonly exact = new Map<string, DeadbandSpec | false>();
  /** A source's default for points without a rule of their own (serial-line sensors). */
  private readonly bySource = new Map<string, DeadbandSpec>();

  constructor(drivers: DriverDeadbands[]) {
    for (const d of drivers) for (const r of d.rules) this.add(d.driver, r);
  }

  private add(driver: string, r: DeadbandRule): void {
    if (r.point !== undefined) this.exact.set(key(driver, r.source, r.point), r.spec);
    else if (r.spec !== false) this.bySource.set(key(driver, r.source, ''), r.spec);
  }

  get empty(): boolean {
    return this.bySource.size === 0 && [...this.exact.values()].every((s) => s === false);
  }

  /** The deadband of a reading's point; undefined: every reading of it is forwarded. */
  of(r: StampedReading): DeadbandSpec | undefined {
    if (r.driver === undefined) return undefined;
    const own = this.exact.get(key(r.driver, r.source, r.point));
    if (own !== undefined) return own === false ? undefined : own;
    return this.bySource.get(key(r.driver, r.source, ''));
  }
}

/** Readings kept back per point since this process started (shown by `buffer`, `status`, metrics). */
export class SuppressedCounts {
  private readonly counts = new Map<string, { driver: string; source: string; point: string; suppressed: number }>();
  private sum = 0;

  add(r: StampedReading): void {
    const k = key(r.driver ?? '', r.source, r.point);
    const c = this.counts.get(k);
    if (c) c.suppressed++;
    else this.counts.set(k, { driver: r.driver ?? '', source: r.source, point: r.point, suppressed: 1 });
    this.sum++;
  }

  get total(): number {
    return this.sum;
  }

  list(): Array<{ driver: string; source: string; point: string; suppressed: number }> {
    return [...this.counts.values()].map((c) => ({ ...c }));
  }
}

/** What was last forwarded of a point: value, quality, error code, application time. */
type Sent = [v: PointValue, q: Quality, e: string | null, t: number];

/** A checkpoint's deadband part: the last forwarded reading per point, and the journal position it reflects. */
export interface DeadbandCheckpoint {
  deadband: { position: number; sent: Array<[key: string, ...Sent]> };
}

export function isDeadbandCheckpoint(x: unknown): x is DeadbandCheckpoint {
  return typeof x === 'object' && x !== null && 'deadband' in x;
}

/**
 * The filter's state: the last forwarded reading per point. A stateless stage loses it at a
 * restart (the first reading of each point then passes: the cloud gets a fresh value, never
 * misses one). A stateful stage checkpoints it with its own state, because its restart replays
 * the steps since the checkpoint and must decide exactly as the run before did.
 */
export class Deadband {
  private sent = new Map<string, Sent>();
  /** The last journal position the filter saw, and what a restored checkpoint expects next. */
  private position = 0;
  private expect: number | undefined;
  /** Off while a restart replays steps the previous run counted already. */
  private counting = true;

  constructor(
    private readonly rules: DeadbandRules,
    private readonly counts: SuppressedCounts,
  ) {}

  /** The `reading` records of the entries that pass, in order. */
  forward(entries: JournalEntry[]): RecordDraft[] {
    if (entries.length > 0 && this.expect !== undefined) {
      // A checkpoint that does not end where this journal goes on (an old one, kept while a
      // stateless stage ran, or entries lost to damage) is not what the cloud last got: forget it.
      if (entries[0]!.position !== this.expect) this.sent.clear();
      this.expect = undefined;
    }
    const out: RecordDraft[] = [];
    for (const e of entries) {
      if (this.admit(e.reading)) out.push(readingRecord(e.reading));
    }
    if (entries.length > 0) this.position = entries[entries.length - 1]!.position;
    return out;
  }

  /** Whether the reading is forwarded; a forwarded one becomes its point's reference. */
  admit(r: StampedReading): boolean {
    const spec = this.rules.of(r);
    if (!spec) return true;
    const k = key(r.driver!, r.source, r.point);
    const last = this.sent.get(k);
    const err = r.error?.code ?? null;
    if (last === undefined || last[1] !== r.quality || last[2] !== err || (spec.maxSilenceMs !== undefined && r.appTime - last[3] >= spec.maxSilenceMs) || moved(last[0], r.value, spec)) {
      this.sent.set(k, [r.value, r.quality, err, r.appTime]);
      return true;
    }
    if (this.counting) this.counts.add(r);
    return false;
  }

  /** Empty: the next reading of every point passes. */
  clear(): void {
    this.sent.clear();
    this.expect = undefined;
  }

  checkpoint(): DeadbandCheckpoint {
    return { deadband: { position: this.position, sent: [...this.sent].map(([k, s]) => [k, ...s]) } };
  }

  /** Takes a checkpoint's part back; steps replayed after it are not counted again, until `resumed`. */
  restore(c: DeadbandCheckpoint | undefined): void {
    this.sent = new Map((c?.deadband.sent ?? []).map(([k, ...s]) => [k, s]));
    this.position = c?.deadband.position ?? 0;
    this.expect = c ? c.deadband.position + 1 : undefined;
    this.counting = false;
  }

  /** A restart's replay is over: suppressions count again. */
  resumed(): void {
    this.counting = true;
  }
}

/**
 * Whether a value moved out of the band around the last forwarded one. Numbers: by more than
 * max(absolute, percent % of |last|) (percent of 0 is 0); anything else (bool, string, null, a
 * type change): any change.
 */
export function moved(last: PointValue, v: PointValue, spec: DeadbandSpec): boolean {
  if (typeof last === 'number' && typeof v === 'number') {
    const band = Math.max(spec.absolute ?? 0, ((spec.percent ?? 0) / 100) * Math.abs(last));
    return Math.abs(v - last) > band;
  }
  return last !== v;
}
