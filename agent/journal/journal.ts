import { systemClock, type Clock, type TimerHandle } from '../core/clock.js';
import { isEdgeError } from '../core/errors.js';
import type { StampedReading } from '../core/reading.js';
import { decodeChecked, encodeChecked, keyPosition, positionKey } from '../store/checksum.js';
import { GroupCommit } from '../store/group-commit.js';
import type { AgentStore } from '../store/store.js';
import { Signal } from '../runtime/signal.js';

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

  private syncTimer: TimerHandle | undefined;
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
      this.syncTimer = clock.setTimeout(() => void this.flushToDisk().finally(tick), intervalMs);
    };
    tick();
  }

  /** Stops the periodic fsync after one last one. */
  async stop(): Promise<void> {
    if (this.syncTimer) (this.options.clock ?? systemClock).clearTimeout(this.syncTimer);
    this.syncTimer = undefined;
    await this.commits.idle();
    await this.flushToDisk();
  }

  /** A synced write makes LevelDB fsync its log, and with it every earlier unsynced write. */
  private async flushToDisk(): Promise<void> {
    if (!this.unsynced || this.store.db.status !== 'open') return;
    this.unsynced = false;
    await this.store.db.batch([{ type: 'put', sublevel: this.store.meta, key: 'journalSynced', value: Buffer.alloc(0) }], { sync: true });
  }

  /**
   * `consumedUpTo` is the highest position a consumer has already taken (and deleted): the
   * journal may be empty after a restart, yet its positions must keep growing past it.
   */
  async init(consumedUpTo: number): Promise<void> {
    this.nextPosition = consumedUpTo + 1;
    for await (const key of this.store.journal.keys({ reverse: true, limit: 1 })) {
      this.nextPosition = Math.max(this.nextPosition, keyPosition(key) + 1);
    }
  }

  /** Resolves once the readings are on disk: the moment they count as acknowledged. */
  append(readings: StampedReading[]): Promise<void> {
    if (readings.length === 0) return Promise.resolve();
    return this.commits.submit(readings);
  }

  /**
   * Up to `limit` entries after `afterPosition`, and none past `upTo` when given: a replay asks
   * for exactly the positions a step once consumed, even where a damaged one has since gone.
   */
  async read(afterPosition: number, limit: number, upTo?: number): Promise<JournalEntry[]> {
    const out: JournalEntry[] = [];
    const bad: Array<[string, Buffer]> = [];
    const range = upTo === undefined ? { gt: positionKey(afterPosition), limit } : { gt: positionKey(afterPosition), lte: positionKey(upTo), limit };
    for await (const [key, value] of this.store.journal.iterator(range)) {
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
    await this.store.db.batch(ops, { sync: this.options.sync === 'commit' });
    if (this.options.sync === 'interval') this.unsynced = true;
    this.nextPosition = first + readings.length;
    this.appended.notify();
  }
}
