import { EdgeError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { Clock } from '../core/clock.js';
import type { Journal, JournalEntry } from '../journal/journal.js';
import type { Outbox, RecordDraft } from '../outbox/outbox.js';
import type { RecordStage } from './stage.js';
import { encodeChecked } from '../store/checksum.js';
import type { AgentStore, StoreOp } from '../store/store.js';
import { Signal, waitAny } from '../core/signal.js';
import { isStoreFaultError } from '../store/store-fault.js';
import { CURSOR_KEY, encodeState, encodeTail, loadCommitted, replayTail, STATE_KEY, TAIL_KEY, type Committed, type StageTail, type TailStep, type UnfinishedStep, readSteps } from './stage-tail.js';

/**
 * When a stateful stage is checkpointed: `everyMs` of clock time after the last checkpoint once
 * it has consumed entries, or after `everyEvents` entries or `maxSteps` steps (the tail record
 * is rewritten each step, so it stays small). Between checkpoints a restart replays the tail.
 */
export interface CheckpointPolicy {
  everyMs: number;
  everyEvents: number;
  maxSteps: number;
  /**
   * What checkpoints may write, on average, in bytes per second of `everyMs`: a bigger state
   * stretches `everyMs` and `everyEvents` (at most `maxStretch` times) so that writing it stays
   * within this budget. Without it the interval is fixed.
   */
  bytesPerSecond?: number;
  maxStretch?: number;
}

/**
 * A large gateway's state (10 queries × 5,000 groups: ~15 MB) written every 10 s cost a tenth of
 * a core and as much flash as the readings (BENCHMARKS.md, plant): at 256 KB/s it goes out every
 * 60 s, and a restart replays at most a minute of the journal.
 */
export const DEFAULT_CHECKPOINTS: CheckpointPolicy = { everyMs: 10_000, everyEvents: 50_000, maxSteps: 256, bytesPerSecond: 256 * 1024, maxStretch: 6 };

/** How many times the interval grows for a checkpoint of `bytes` under `policy`'s budget. */
export function checkpointStretch(policy: CheckpointPolicy, bytes: number): number {
  if (policy.bytesPerSecond === undefined) return 1;
  const budget = (policy.bytesPerSecond * policy.everyMs) / 1000;
  return Math.min(policy.maxStretch ?? 1, Math.max(1, bytes / budget));
}

/**
 * Moves data from the journal to the outbox. Each step commits, in one atomic (and, in
 * `commit` mode, fsynced) batch, the new outbox records, the seq counter and the journal
 * cursor: a crash leaves either all of it or none of it, so nothing is forwarded twice under
 * different seqs and nothing is skipped.
 *
 * A stateless stage's consumed entries are deleted in the same batch. A stateful stage is not
 * serialised every step (its state is large, a step's change small): the step records only
 * what it consumed and the time it was given, and the consumed entries stay in the journal
 * until the batch that writes the next checkpoint deletes them. A restart restores that
 * checkpoint and replays the recorded steps with their output dropped (it is in the outbox).
 */
export class Pipeline {
  private cursor = 0;
  private running = false;
  private loopDone: Promise<void> = Promise.resolve();
  private readonly stopped = new Signal();
  private stepping: Promise<unknown> = Promise.resolve();
  /** The steps since the last checkpoint, as committed. */
  private tail: StageTail = { from: 0, steps: [] };
  private tailEvents = 0;
  private checkpointedAt = 0;
  /** The last checkpoint's size stretched the interval this many times (`checkpointStretch`). */
  private stretch = 1;
  /** A failed batch left the stage ahead of the store: rebuild it from the store first. */
  private stale = false;
  /** The rest of a step that a crash cut between two of its batches, made again by the replay. */
  private unfinished: UnfinishedStep | undefined;
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
    private readonly checkpoints: CheckpointPolicy = DEFAULT_CHECKPOINTS,
    /**
     * Most records a stateful stage's step commits in one batch. A window end over thousands
     * of groups makes tens of thousands at once; encoding them and the batch holding them in
     * one go took more heap than the unit allows. Larger outputs go in several batches, the
     * tail recording how many are in (`TailStep`'s `done`).
     */
    private readonly maxDraftsPerBatch = 2000,
  ) {}

  /** Reads the cursor and rebuilds the stage's state; call before `Journal.init`, which needs `position`. */
  async init(): Promise<void> {
    await this.rebuild();
    // What an earlier run consumed but did not get to delete; a stateful stage keeps its tail.
    this.journal.sweepConsumed(this.stateful ? this.tail.from : this.cursor);
  }

  private get stateful(): boolean {
    return this.stage.checkpoint !== undefined;
  }

  private async rebuild(): Promise<void> {
    const committed = await loadCommitted(this.store);
    this.unfinished = undefined;
    if (this.stateful) this.unfinished = await replayTail(this.stage, this.journal, committed);
    else {
      // Switching to a stateless stage drops the stateful one's state, and with it the rest of a cut step.
      this.stage.restore(committed.state);
      if (committed.tailStored) await this.dropTail(committed);
    }
    if (committed.tail.steps.length > 0) this.logger.info({ from: committed.tail.from, to: committed.cursor, steps: committed.tail.steps.length }, 'stage state restored from its checkpoint and the journal since');
    this.cursor = committed.cursor;
    this.tail = committed.tail;
    this.tailEvents = committed.cursor - committed.tail.from;
    this.checkpointedAt = this.clock.now();
    this.stale = false;
    this.stage.resumed?.();
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loopDone = this.loop();
  }

  /** Ends the loop and checkpoints the stage, so the next start (or a new stage) replays nothing. */
  async stop(): Promise<void> {
    this.running = false;
    this.stopped.notify();
    await this.loopDone;
    await this.checkpoint().catch((err: unknown) => this.logger.warn({ err }, 'could not checkpoint the stage while stopping; the next start replays the journal since the last one'));
  }

  /** Checkpoints a stateful stage that has steps since its last checkpoint; serialised with the steps. */
  checkpoint(): Promise<void> {
    const run = this.stepping.then(async () => {
      if (!this.stateful || this.stale || this.tail.steps.length === 0 || this.store.db.status !== 'open' || this.store.fault) return;
      // The state is past the cut step: checkpointing before its rest is in would lose the rest.
      if (this.unfinished) await this.finishUnfinished();
      if (this.tail.steps.length === 0) return;
      await this.commitCheckpoint([], this.cursor, true);
    });
    this.stepping = run.catch(() => undefined);
    return run;
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

  /**
   * Commits records made outside the stage (an audit event) to the outbox, durably (fsynced),
   * in turn with the steps: a step stages seqs it commits later, so records staged beside it
   * would take the same seqs. Refused while stopped: a pipeline replacing this one (reconfigure,
   * store recovery) would step beside it.
   */
  append(drafts: RecordDraft[]): Promise<void> {
    if (!this.running) return Promise.reject(new EdgeError('EDGE_STORE_UNAVAILABLE', 'the pipeline is stopped (the configuration is being applied or the buffer healed); try again'));
    const run = this.stepping.then(async () => {
      const staged = this.outbox.stage(drafts);
      await this.store.write(staged.ops, { sync: true });
      staged.commit();
    });
    this.stepping = run.catch(() => undefined);
    return run;
  }

  /** A stateless stage now reads what a stateful one left: its kept entries are consumed already. */
  private async dropTail(committed: Committed): Promise<void> {
    await this.store.write([{ type: 'del', sublevel: this.store.meta, key: TAIL_KEY }], { sync: this.syncSteps });
    this.journal.consumed(committed.cursor);
  }

  private async stepOnce(): Promise<number> {
    if (this.stale) await this.rebuild();
    if (this.unfinished) await this.finishUnfinished();
    const entries = await this.journal.read(this.cursor, this.batchSize);
    const now = this.clock.now();
    const last = entries.length > 0 ? entries[entries.length - 1]!.position : this.cursor;
    if (!this.stateful) {
      const output = this.run(() => this.stage.process(entries, now));
      // At most one record per entry, so a batch of entries bounds it.
      if (entries.length === 0 && output.drafts.length === 0) return 0;
      await this.commit(output.drafts, [], last, this.syncSteps);
      this.journal.consumed(last);
      return entries.length;
    }
    this.tailEvents += entries.length;
    const produced = await this.commitStep(entries, 0, last, now);
    return entries.length === 0 && produced === 0 ? 0 : entries.length;
  }

  /** Runs stage code; a throw leaves the stage ahead of the store. */
  private run<T>(f: () => T): T {
    try {
      return f();
    } catch (err) {
      this.stale = true;
      throw err;
    }
  }

  private async finishUnfinished(): Promise<void> {
    const { from, last, now, done } = this.unfinished!;
    const entries = await readSteps(this.journal, from, last);
    // The tail's last step is the cut one: it is taken off and written again as it completes.
    this.tail = { from: this.tail.from, steps: this.tail.steps.slice(0, -1) };
    this.unfinished = undefined;
    await this.commitStep(entries, done, last, now);
  }

  /**
   * Takes one step of the stage and commits its records in batches of at most
   * `maxDraftsPerBatch` as the stage hands them out, the first `skip` dropped (a cut step taken
   * again). Each batch but the last records the step in the tail with how many of its records
   * are in, so a crash between two of them takes the step again and commits only the rest. The
   * last batch records the step as complete, or checkpoints when due: a checkpoint is the state
   * after the whole step, so it cannot come before the step's last record. Returns the number
   * of records the step made.
   */
  private async commitStep(entries: JournalEntry[], skip: number, last: number, now: number): Promise<number> {
    const max = this.maxDraftsPerBatch;
    const before = this.tail.steps;
    const pieces = this.stage.pieces?.(entries, now, max) ?? [this.run(() => this.stage.process(entries, now)).drafts];
    const it = pieces[Symbol.iterator]();
    let made = 0;
    let done = skip;
    let held: RecordDraft[] = [];
    for (;;) {
      const next = this.run(() => it.next());
      if (next.done) break;
      let piece = next.value;
      made += piece.length;
      if (made <= skip) continue;
      if (made - piece.length < skip) piece = piece.slice(skip - (made - piece.length));
      held = held.length === 0 ? piece : held.concat(piece);
      while (held.length >= max) {
        const part = held.length === max ? held : held.slice(0, max);
        held = held.length === max ? [] : held.slice(max);
        done += part.length;
        const tail: StageTail = { from: this.tail.from, steps: [...before, [last, now, done]] };
        await this.commit(part, [this.tailPut(tail)], last, this.syncSteps);
        this.tail = tail;
      }
    }
    const steps = before.length + 1;
    // Steps that only moved the clock make a short tail: they need no checkpoint on a timer (an idle box would fsync for nothing).
    const c = this.checkpoints;
    const due = steps >= c.maxSteps || this.tailEvents >= c.everyEvents * this.stretch || (this.tailEvents > 0 && now - this.checkpointedAt >= c.everyMs * this.stretch);
    if (due) {
      await this.commitCheckpoint(held, last, this.syncSteps);
      return made;
    }
    const step: TailStep = [last, now];
    const tail: StageTail = { from: this.tail.from, steps: [...before, step] };
    // A step that consumed and produced nothing still moved the stage's clock; recording it
    // unsynced keeps a replay faithful after a crash (the OS holds the write) at no fsync.
    const quiet = entries.length === 0 && made === 0;
    await this.commit(held, [this.tailPut(tail)], last, this.syncSteps && !quiet);
    this.tail = tail;
    return made;
  }

  private tailPut(tail: StageTail): StoreOp {
    return { type: 'put', sublevel: this.store.meta, key: TAIL_KEY, value: encodeTail(tail) };
  }

  /** Writes the stage's checkpoint and deletes the journal entries it now covers. */
  private async commitCheckpoint(drafts: RecordDraft[], last: number, sync: boolean): Promise<void> {
    const started = performance.now();
    const parts: Buffer[] = [];
    let encodedMs = 0;
    const made = this.stage.checkpoint!()[Symbol.iterator]();
    for (;;) {
      const t = performance.now();
      const next = made.next();
      encodedMs += performance.now() - t;
      if (next.done === true) break;
      parts.push(next.value);
      // Timers (the drivers' polls) and I/O run between two parts; no step does (this runs in
      // `stepping`). A timer, not setImmediate: every timer due before it runs first. Not the
      // injected clock: this is a turn of the event loop, not a wait in time.
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
    const state = encodeState(parts);
    const ops: StoreOp[] = [
      { type: 'put', sublevel: this.store.meta, key: STATE_KEY, value: state },
      { type: 'put', sublevel: this.store.meta, key: TAIL_KEY, value: encodeTail({ from: last, steps: [] }) },
    ];
    await this.commit(drafts, ops, last, sync);
    // The checkpoint covers (from, last]: no replay reads them again.
    this.journal.consumed(last);
    const [steps, events] = [this.tail.steps.length, this.tailEvents];
    this.tail = { from: last, steps: [] };
    this.tailEvents = 0;
    this.checkpointedAt = this.clock.now();
    this.stretch = checkpointStretch(this.checkpoints, state.length);
    this.logger.debug({ bytes: state.length, encodedMs: Math.round(encodedMs), totalMs: Math.round(performance.now() - started), steps, events }, 'stage checkpointed');
  }

  private async commit(drafts: RecordDraft[], ops: StoreOp[], last: number, sync: boolean): Promise<void> {
    const staged = this.outbox.stage(drafts);
    try {
      await this.store.write([...staged.ops, { type: 'put', sublevel: this.store.meta, key: CURSOR_KEY, value: encodeChecked(last) }, ...ops], { sync });
    } catch (err) {
      // The stage has seen these entries, the store has not: rebuild it, or the retry counts them twice.
      this.stale = true;
      throw err;
    }
    staged.commit();
    this.cursor = last;
    this.advanced.notify();
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
