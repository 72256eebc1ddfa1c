import type { JournalEntry } from '../journal/journal.js';
import type { RecordDraft } from '../outbox/outbox.js';
import type { Deadband } from './deadband.js';
import { readingRecord } from './reading-records.js';

/** What one pipeline step produces: outbox records. */
export interface StageOutput {
  drafts: RecordDraft[];
}

/**
 * Turns journal entries into outbox records. `process` may be called with no entries, so
 * time-driven output (windows closing on an idle line) still flows.
 *
 * A stateful stage (analytics) has `checkpoint`. Its state must depend only on the checkpoint
 * it was restored from and the `process` calls since, never on a clock of its own: the pipeline
 * checkpoints it now and then and, after a restart, restores that checkpoint and calls `process`
 * again with the same entries and times (output dropped), which must rebuild the same state.
 */
export interface RecordStage {
  process(entries: JournalEntry[], now: number): StageOutput;
  /**
   * The same records as `process`, in the same order, handed out as they come in pieces of
   * about `max` (a piece can be larger: what one query emits at once), so the caller can commit
   * them while the rest are made. The state is the one `process` leaves only once the
   * iteration has run to its end.
   */
  pieces?(entries: JournalEntry[], now: number, max: number): Iterable<RecordDraft[]>;
  /**
   * The whole state as UTF-8 text, in parts that are stored back to back (a large state need
   * never be one string); absent on a stage that keeps none. The caller may let the event loop
   * run between two parts, but runs no step until it has them all: the state holds still.
   */
  checkpoint?(): Iterable<Buffer>;
  /** Replaces the state with a checkpoint's text; `undefined` means empty. */
  restore(state: string | undefined): void;
  /** The pipeline has restored the stage and replayed its tail: what comes next is live. */
  resumed?(): void;
}

/** Forwards every reading as it is. */
export const readingsStage: RecordStage = {
  process: (entries) => ({ drafts: entries.map((e) => readingRecord(e.reading)) }),
  restore: () => undefined,
};

/**
 * Forwards the readings that pass the deadband. Stateless for the pipeline (no checkpoint): a
 * restart, or a batch that failed, starts the filter empty, so the next reading of each point
 * passes rather than one being compared with a value the cloud never got.
 */
export function forwardingStage(deadband: Deadband): RecordStage {
  return {
    process: (entries) => ({ drafts: deadband.forward(entries) }),
    restore: () => deadband.clear(),
  };
}
