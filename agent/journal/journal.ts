import { systemClock, type Clock, type TimerHandle } from '../core/clock.js';
import { isEdgeError } from '../core/errors.js';
import type { StampedReading } from '../core/reading.js';
import { decodeChecked, encodeChecked, keyPosition, positionKey } from '../store/checksum.js';
import { GroupCommit } from '../store/group-commit.js';
import type { AgentStore } from '../store/store.js';
import { META } from '../store/meta-keys.js';
import { Signal } from '../core/signal.js';
import { assertReadings } from './validate-reading.js';

export interface JournalEntry {
  position: number;
  reading: StampedReading;
}

export interface JournalOptions {
  /**
   * `commit`: fsync every group commit (loses nothing acknowledged). `interval`: fsync every
   * `intervalMs` (a power cut may lose that much acknowledged data; a crash loses nothing).
   */
  sync: 'commit' | 'interval';
  intervalMs?: number;
  clock?: Clock;
}

/**
 * Every stamped reading, in arrival order, durable before its driver is told it was
 * accepted. Positions are dense and only grow; consumers keep their own cursor.
 */
export class Journal {
  private nextPosition = 1;
  private readonly commits: GroupCommit<StampedReading>;
  /** Fires after each durable append. */
  readonly appended = new Signal();

  /** Positions at or below this may still be stored but were consumed for good (`consumed`). */
  private releasedUpTo = 0;
  /** Positions at or below this are cleared from the store (this run's clears only). */
  private clearedUpTo = 0;
  private clearing: Promise<void> | undefined;
  private sweepPending = false;

  private syncTimer: TimerHandle | undefined;
  private heldBy: (() => Error) | undefined;
  private unsynced = false;

  constructor(
    private readonly store: AgentStore,
    private readonly options: JournalOptions = { sync: 'commit' },
  ) {
    this.commits = new GroupCommit((items) => this.write(items));
  }

  /** In `interval` mode, starts the periodic fsync. */
  start(): void {
    const { sync, intervalMs = 1000, clock = systemClock } = this.options;
    if (sync !== 'interval') return;
    const tick = () => {
      // A refused fsync (store fault) is the recovery's to report; the next tick tries again.
      this.syncTimer = clock.setTimeout(() => void this.flushToDisk().catch(() => undefined).finally(tick), intervalMs);
    };
    tick();
  }

  /** Stops the periodic fsync after one last one. */
  async stop(): Promise<void> {
    if (this.syncTimer) (this.options.clock ?? systemClock).clearTimeout(this.syncTimer);
    this.syncTimer = undefined;
    await this.commits.idle();
    await this.clearing;
    await this.flushToDisk();
  }

  /** A synced write makes LevelDB fsync its log, and with it every earlier unsynced write. */
  private async flushToDisk(): Promise<void> {
    if (!this.unsynced || this.store.db.status !== 'open') return;
    this.unsynced = false;
    try {
      await this.store.write([{ type: 'put', sublevel: this.store.meta, key: META.journalSynced, value: Buffer.alloc(0) }], { sync: true });
    } catch (err) {
      this.unsynced = true;
      throw err;
    }
  }

  /**
   * `consumedUpTo` is the highest position a consumer has already taken (and deleted): the
   * journal may be empty after a restart, yet its positions must keep growing past it. Returns the
   * number of entries missing between it and the newest one: positions are dense, so a hole is
   * accepted readings a torn or garbled log took (they had no seq yet, so this count is all that
   * can be reported of them). Called again after the store was reopened at run time, `afterFault`
   * also removes entries at or past the position the next write would have used: those writes
   * were reported failed to their drivers, which will offer the readings again.
   */
  async init(consumedUpTo: number, afterFault = false): Promise<{ missing: number }> {
    const planned = this.nextPosition;
    this.nextPosition = afterFault ? Math.max(planned, consumedUpTo + 1) : consumedUpTo + 1;
    let expected = consumedUpTo + 1;
    let missing = 0;
    const ghosts: string[] = [];
    for await (const key of this.store.journal.keys({ gt: positionKey(consumedUpTo) })) {
      const position = keyPosition(key);
      if (afterFault && position >= planned) {
        ghosts.push(key);
        continue;
      }
      missing += Math.max(0, position - expected);
      expected = position + 1;
      this.nextPosition = Math.max(this.nextPosition, position + 1);
    }
    if (ghosts.length > 0) await this.store.write(ghosts.map((key) => ({ type: 'del' as const, sublevel: this.store.journal, key })));
    return { missing };
  }

  /**
   * Resolves once the readings are on disk: the moment they count as acknowledged. Refuses the
   * whole call with EDGE_READING_INVALID (naming `driver` and the point) if any reading is not
   * one the wire and the reconciler can carry: the intake filters them out first, so that one
   * bad reading never holds back the good ones beside it.
   */
  append(readings: StampedReading[], driver = 'unnamed'): Promise<void> {
    if (readings.length === 0) return Promise.resolve();
    try {
      assertReadings(readings, driver);
    } catch (err) {
      return Promise.reject(err as Error);
    }
    if (this.heldBy) return Promise.reject(this.heldBy());
    return this.commits.submit(readings);
  }

  /**
   * Refuses appends (with `refusal()`) until `release`, once the writes under way have settled:
   * while the store is being healed, its state is read back and positions checked, and an append
   * landing in between would be taken for a ghost of a failed write.
   */
  async hold(refusal: () => Error): Promise<void> {
    this.heldBy = refusal;
    await this.commits.idle();
  }

  release(): void {
    this.heldBy = undefined;
  }

  /**
   * Up to `limit` entries after `afterPosition`, and none past `upTo` when given: a replay asks
   * for exactly the positions a step once consumed, even where a damaged one has since gone.
   */
  async read(afterPosition: number, limit: number, upTo?: number): Promise<JournalEntry[]> {
    const out: JournalEntry[] = [];
    const bad: Array<[string, Buffer]> = [];
    // Consumed entries may still be on disk while their range delete runs: they are gone all the same.
    const after = Math.max(afterPosition, this.releasedUpTo);
    if (upTo !== undefined && upTo <= after) return out;
    const range = upTo === undefined ? { gt: positionKey(after), limit } : { gt: positionKey(after), lte: positionKey(upTo), limit };
    // One native read for the lot (bounded by `limit`): `for await` costs a promise per entry.
    for (const [key, value] of await this.store.journal.iterator(range).all()) {
      try {
        out.push({ position: keyPosition(key), reading: decodeChecked<StampedReading>(value, `journal ${key}`) });
      } catch (err) {
        if (!isEdgeError(err, 'EDGE_STORE_CORRUPT')) throw err;
        bad.push([key, value]);
      }
    }
    for (const [key, value] of bad) await this.store.quarantine('journal', key, value);
    return out;
  }

  /**
   * Positions up to `upTo` are consumed for good: a committed write of the consumer's (its cursor,
   * or its checkpoint) says so, and nothing reads them again. They are deleted afterwards, as one
   * LevelDB range delete off the event loop, not as a delete op per entry in the consumer's batch:
   * a minute of 5,000 readings/s was 300,000 ops in one checkpoint batch (more than a spread
   * argument list holds) and most of the garbage the collector chased. A crash before the delete
   * lands leaves consumed entries behind; `init` reads only past the consumer's cursor, and the
   * consumer sweeps them (`sweepConsumed`) when it opens.
   */
  consumed(upTo: number): void {
    if (upTo <= this.releasedUpTo) return;
    this.releasedUpTo = upTo;
    this.clearing ??= this.clearReleased();
  }

  /** Like `consumed`, but clears from the first position on: what an earlier run consumed and left. */
  sweepConsumed(upTo: number): void {
    this.sweepPending = true;
    this.releasedUpTo = Math.max(this.releasedUpTo, upTo);
    this.clearing ??= this.clearReleased();
  }

  private async clearReleased(): Promise<void> {
    try {
      while (this.sweepPending || this.clearedUpTo < this.releasedUpTo) {
        const upTo = this.releasedUpTo;
        // A clear starts past the last one: LevelDB would otherwise step over every delete it left.
        const sweeping = this.sweepPending;
        const from = sweeping ? 0 : this.clearedUpTo;
        await this.store.clear(this.store.journal, from > 0 ? { gt: positionKey(from), lte: positionKey(upTo) } : { lte: positionKey(upTo) });
        if (sweeping) this.sweepPending = false;
        this.clearedUpTo = Math.max(this.clearedUpTo, upTo);
      }
    } catch {
      // A store fault is the recovery's to report; the consumed entries stay until the next call.
    } finally {
      this.clearing = undefined;
    }
  }

  /** Position of the newest entry (0 when none was ever written). */
  get lastPosition(): number {
    return this.nextPosition - 1;
  }

  private async write(readings: StampedReading[]): Promise<void> {
    const first = this.nextPosition;
    const ops = readings.map((reading, i) => ({
      type: 'put' as const,
      sublevel: this.store.journal,
      key: positionKey(first + i),
      value: encodeChecked(reading),
    }));
    await this.store.write(ops, { sync: this.options.sync === 'commit' });
    if (this.options.sync === 'interval') this.unsynced = true;
    this.nextPosition = first + readings.length;
    this.appended.notify();
  }
}
