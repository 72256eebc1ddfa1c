import type { Logger } from '../core/logger.js';
import type { Clock } from '../core/clock.js';
import type { Journal } from '../journal/journal.js';
import type { Outbox } from '../outbox/outbox.js';
import type { RecordStage } from './stage.js';
import { decodeChecked, encodeChecked, positionKey } from '../store/checksum.js';
import type { AgentStore } from '../store/store.js';
import { META } from '../store/meta-keys.js';
import { isStoreFaultError } from '../store/store-fault.js';
import { Signal, waitAny } from '../core/signal.js';

const CURSOR_KEY = META.journalCursor;
const STATE_KEY = META.stageState;

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
  /** The stage state as last committed: what a failed step rolls the stage back to. */
  private committedState: string | undefined;
  /** Fires after each committed step. */
  readonly advanced = new Signal();

  constructor(
    private readonly store: AgentStore,
    private readonly journal: Journal,
    private readonly outbox: Outbox,
    private readonly stage: RecordStage,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly batchSize = 2000,
    /** How often a quiet pipeline still steps, so time-driven results (closing windows) flow. */
    private readonly idleStepMs = 1000,
    /**
     * fsync each step (the journal's `commit` mode). Unsynced in `interval` mode, where the
     * journal's periodic fsync covers the steps too (LevelDB syncs its whole log).
     */
    private readonly syncSteps = true,
  ) {}

  /** Reads the cursor; call before `Journal.init`, which needs `position`. */
  async init(): Promise<void> {
    const raw = await this.store.meta.get(CURSOR_KEY);
    if (raw) this.cursor = decodeChecked<number>(raw, 'journal cursor');
    const state = await this.store.meta.get(STATE_KEY);
    this.committedState = state ? decodeChecked<string>(state, 'analytics state') : undefined;
    this.stage.restore(this.committedState);
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
    const output = this.stage.process(entries, this.clock.now());
    if (entries.length === 0 && output.drafts.length === 0) return 0;
    const staged = this.outbox.stage(output.drafts);
    const state = output.state?.();
    const last = entries.length > 0 ? entries[entries.length - 1]!.position : this.cursor;
    try {
      await this.store.write(
      [
        ...staged.ops,
        { type: 'put', sublevel: this.store.meta, key: CURSOR_KEY, value: encodeChecked(last) },
        ...(state !== undefined ? [{ type: 'put' as const, sublevel: this.store.meta, key: STATE_KEY, value: encodeChecked(state) }] : []),
        ...entries.map((e) => ({ type: 'del' as const, sublevel: this.store.journal, key: positionKey(e.position) })),
        ],
        { sync: this.syncSteps },
      );
    } catch (err) {
      // The stage has seen these entries, the store has not: forget them, or the retry counts them twice.
      this.stage.restore(this.committedState);
      throw err;
    }
    if (state !== undefined) this.committedState = state;
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
        // A store fault is reported once, by the recovery, and ends with `healed`: no retry before.
        if (isStoreFaultError(this.store.notice(err))) {
          while (this.running && this.store.fault) await waitAny([this.store.healed, this.stopped], { clock: this.clock, ms: this.idleStepMs });
          continue;
        }
        this.logger.error({ err }, 'pipeline step failed; will retry when new data arrives');
      }
      await waitAny([this.journal.appended, this.stopped], { clock: this.clock, ms: this.idleStepMs });
    }
  }
}
