import type { Logger } from '../core/logger.js';
import { AnalyticsEngine, compileQuery, eventFromReading, toResultRecord, type EngineCheckpoint, type ResultRow, type Tolerances } from '../analytics/index.js';
import type { JournalEntry } from '../journal/journal.js';
import type { RecordDraft } from '../outbox/outbox.js';
import { readingRecord } from './reading-records.js';
import type { RecordStage, StageOutput } from './stage.js';

export interface AnalyticsStageOptions {
  queries: Array<{ name: string; query: string }>;
  tolerances: Partial<Tolerances>;
  maxStateEntries: number;
  /** Forward raw readings as well as the results. */
  forwardReadings: boolean;
  logger: Logger;
}

/**
 * Runs the configured queries over the journal's readings. Results become `result` records;
 * the engine's state (open windows, reorder buffers, watermarks) is returned with every step
 * so the pipeline commits it together with the journal cursor it reflects.
 */
export class AnalyticsStage implements RecordStage {
  private readonly engine: AnalyticsEngine;
  private results: ResultRow[] = [];

  constructor(private readonly options: AnalyticsStageOptions) {
    this.engine = new AnalyticsEngine({
      queries: options.queries.map((q) => compileQuery(q.query, q.name)),
      tolerances: options.tolerances,
      maxStateEntries: options.maxStateEntries,
      onResult: (row) => this.results.push(row),
    });
  }

  process(entries: JournalEntry[], now: number): StageOutput {
    const drafts: RecordDraft[] = [];
    for (const e of entries) {
      this.engine.push(eventFromReading(e.reading));
      if (this.options.forwardReadings) drafts.push(readingRecord(e.reading));
    }
    // Lets windows close on arrival time when a line goes quiet (ASA's "no incoming events").
    this.engine.advance(now);
    for (const row of this.results) drafts.push(toResultRecord(row));
    this.results = [];
    return { drafts, state: () => JSON.stringify(this.engine.checkpoint()) };
  }

  restore(state: string | undefined): void {
    if (state === undefined) return;
    const { resumed, reset } = this.engine.restore(JSON.parse(state) as EngineCheckpoint);
    if (reset.length > 0) this.options.logger.warn({ resumed, reset }, 'analytics: queries changed since the checkpoint start from empty state');
  }

  counters(): ReturnType<AnalyticsEngine['counters']> {
    return this.engine.counters();
  }

  watermarks(): Record<string, number> {
    return this.engine.watermarks();
  }
}
