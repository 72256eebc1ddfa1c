import type { JournalEntry } from '../journal/journal.js';
import type { RecordDraft } from '../outbox/outbox.js';
import { readingRecord } from './reading-records.js';

/** What one pipeline step produces: outbox records, and the stage's state as of the step. */
export interface StageOutput {
  drafts: RecordDraft[];
  /**
   * The state to persist in the same batch as the journal cursor; absent when the stage keeps
   * none. A function, so a quiet step that commits nothing does not serialise it.
   */
  state?: () => string;
}

/**
 * Turns journal entries into outbox records. A stateful stage (analytics) checkpoints its
 * state with every step and gets it back at start, so a restart resumes exactly: no window
 * lost, none counted twice. `process` may be called with no entries, so time-driven output
 * (windows closing on an idle line) still flows.
 */
export interface RecordStage {
  process(entries: JournalEntry[], now: number): StageOutput;
  restore(state: string | undefined): void;
}

/** Forwards every reading as it is. */
export const readingsStage: RecordStage = {
  process: (entries) => ({ drafts: entries.map((e) => readingRecord(e.reading)) }),
  restore: () => undefined,
};
