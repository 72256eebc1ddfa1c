import type { Logger } from '../core/logger.js';
import type { Journal, JournalEntry } from '../journal/journal.js';
import type { Outbox, RecordDraft } from '../outbox/outbox.js';
import { decodeChecked, encodeChecked, positionKey } from '../store/checksum.js';
import type { AgentStore } from '../store/store.js';
import { Signal, waitAny } from '../runtime/signal.js';

/** Turns journal entries into outbox records: analytics results, raw readings, or both. */
export type RecordStage = (entries: JournalEntry[]) => RecordDraft[];

const CURSOR_KEY = 'journalCursor';

/**
 * Moves data from the journal to the outbox. Each step commits, in one atomic and fsynced
 * batch, the new outbox records, the seq counter, the journal cursor and the removal of the
 * consumed journal entries: a crash leaves either all of it or none of it, so nothing is
 * forwarded twice under different seqs and nothing is skipped.
 */
export class Pipeline {
  private cursor = 0;
  private running = false;
  private loopDone: Promise<void> = Promise.resolve();
  private readonly stopped = new Signal();
  private stepping: Promise<unknown> = Promise.resolve();
  /** Fires after each committed step. */
  readonly advanced = new Signal();

  constructor(
    private readonly store: AgentStore,
    private readonly journal: Journal,
    private readonly outbox: Outbox,
    private readonly stage: RecordStage,
    private readonly logger: Logger,
    private readonly batchSize = 2000,
  ) {}

  /** Reads the cursor; call before `Journal.init`, which needs `position`. */
  async init(): Promise<void> {
    const raw = await this.store.meta.get(CURSOR_KEY);
    if (raw) this.cursor = decodeChecked<number>(raw, 'journal cursor');
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loopDone = this.loop();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.stopped.notify();
    await this.loopDone;
  }

  /** Journal position up to which everything has been turned into outbox records. */
  get position(): number {
    return this.cursor;
  }

  /**
   * Moves up to one batch from the journal to the outbox; returns the number of entries
   * consumed. Steps never overlap: two at once would stage the same entries twice.
   */
  step(): Promise<number> {
    const run = this.stepping.then(() => this.stepOnce());
    this.stepping = run.catch(() => undefined);
    return run;
  }

  private async stepOnce(): Promise<number> {
    const entries = await this.journal.read(this.cursor, this.batchSize);
    if (entries.length === 0) return 0;
    const staged = this.outbox.stage(this.stage(entries));
    const last = entries[entries.length - 1]!.position;
    await this.store.db.batch(
      [
        ...staged.ops,
        { type: 'put', sublevel: this.store.meta, key: CURSOR_KEY, value: encodeChecked(last) },
        ...entries.map((e) => ({ type: 'del' as const, sublevel: this.store.journal, key: positionKey(e.position) })),
      ],
      { sync: true },
    );
    staged.commit();
    this.cursor = last;
    this.advanced.notify();
    return entries.length;
  }

  private async loop(): Promise<void> {
    while (this.running) {
      try {
        if ((await this.step()) > 0) continue;
      } catch (err) {
        this.logger.error({ err }, 'pipeline step failed; will retry when new data arrives');
      }
      await waitAny([this.journal.appended, this.stopped]);
    }
  }
}
