import type { Clock } from '../../agent/core/clock.js';
import type { Logger } from '../../agent/core/logger.js';

/** How far one partition's reader is behind the partition's end. */
export interface PartitionLag {
  partition: string;
  /** Events between the committed position and the partition's end; null when the source cannot tell yet. */
  behind: number | null;
  /** Hub enqueued time (epoch ms) of the newest event read from the partition by this process, or null. */
  newestEnqueuedTime: number | null;
}

export const DEFAULT_PROGRESS_INTERVAL_MS = 10_000;

/**
 * Decides when `cloud run` says how it is doing: a `catching up` line as soon as a backlog shows,
 * then one per interval while it lasts (lag per partition, events and records per second since
 * the previous line, an estimate of the time left), and one `caught up` line when it ends. A
 * reconciler a week behind must be seen moving; one that keeps up must not fill the journal.
 */
export class ProgressReporter {
  /** When the lag was last looked at: at most once per interval (a source may answer over the network). */
  private checkedAt: number | undefined;
  /** When the last `catching up` line was logged: the base of its rates. */
  private lastAt: number | undefined;
  private lastEvents = 0;
  private lastRecords = 0;
  /** A `caught up` line is owed: at the first idle moment, and after every `catching up`. */
  private owed = true;

  constructor(
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly intervalMs = DEFAULT_PROGRESS_INTERVAL_MS,
  ) {}

  /** Whether a batch just committed should be followed by a `catching up` line (then call `behind`). */
  due(): boolean {
    return this.checkedAt === undefined || this.clock.now() - this.checkedAt >= this.intervalMs;
  }

  /** After a commit, when `due()`: unless nothing is left, logs the lag, the rates since the previous line and the time left. */
  behind(lags: readonly PartitionLag[], events: number, records: number): void {
    const now = this.clock.now();
    const behind = sumBehind(lags);
    this.checkedAt = now;
    // Keeping up (the batch took the partition to its end) is not worth a line, and what came
    // before it is no base for a rate.
    if (behind === 0) {
      this.lastAt = undefined;
      return;
    }
    this.owed = true;
    const fields: Record<string, unknown> = { behind, partitions: lagFields(lags, now) };
    if (this.lastAt !== undefined && now > this.lastAt) {
      const seconds = (now - this.lastAt) / 1000;
      const eventsPerSecond = (events - this.lastEvents) / seconds;
      fields.eventsPerSecond = round(eventsPerSecond);
      fields.recordsPerSecond = round((records - this.lastRecords) / seconds);
      if (eventsPerSecond > 0) fields.etaSeconds = round(behind / eventsPerSecond);
    }
    this.lastAt = now;
    this.lastEvents = events;
    this.lastRecords = records;
    this.log.info(fields, 'catching up');
  }

  /** Once the source had nothing more: the final lag (0 everywhere a source can tell) and the totals. */
  caughtUp(lags: readonly PartitionLag[], totals: Record<string, number>): void {
    this.lastAt = undefined;
    this.checkedAt = undefined;
    if (!this.owed) return;
    this.owed = false;
    this.log.info({ ...totals, behind: sumBehind(lags), partitions: lagFields(lags, this.clock.now()) }, 'caught up');
  }
}

function sumBehind(lags: readonly PartitionLag[]): number {
  return lags.reduce((n, l) => n + (l.behind ?? 0), 0);
}

function lagFields(lags: readonly PartitionLag[], now: number): Array<{ partition: string; behind: number | null; newestAgeSeconds: number | null }> {
  return lags.map((l) => ({ partition: l.partition, behind: l.behind, newestAgeSeconds: l.newestEnqueuedTime === null ? null : round(Math.max(0, now - l.newestEnqueuedTime) / 1000) }));
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}
