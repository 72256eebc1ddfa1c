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
  /** fsync every group commit (default, loses nothing acknowledged) or leave it to the OS. */
  sync: boolean;
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

  constructor(
    private readonly store: AgentStore,
    private readonly options: JournalOptions = { sync: true },
  ) {
    this.commits = new GroupCommit((items) => this.write(items));
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

  async read(afterPosition: number, limit: number): Promise<JournalEntry[]> {
    const out: JournalEntry[] = [];
    for await (const [key, value] of this.store.journal.iterator({ gt: positionKey(afterPosition), limit })) {
      out.push({ position: keyPosition(key), reading: decodeChecked<StampedReading>(value, `journal ${key}`) });
    }
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
    await this.store.db.batch(ops, { sync: this.options.sync });
    this.nextPosition = first + readings.length;
    this.appended.notify();
  }
}
