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
 * Runs the configured queries over the journal's readings. Results become `result` records.
 * The engine's state (open windows, reorder buffers, watermarks) depends only on the events and
 * times it was given, so the pipeline can checkpoint it at intervals and replay the steps since.
 */
export class AnalyticsStage implements RecordStage {
  private engine: AnalyticsEngine;
  private results: ResultRow[] = [];

  constructor(private readonly options: AnalyticsStageOptions) {
    this.engine = this.newEngine();
  }

  private newEngine(): AnalyticsEngine {
    return new AnalyticsEngine({
      queries: this.options.queries.map((q) => compileQuery(q.query, q.name)),
      tolerances: this.options.tolerances,
      maxStateEntries: this.options.maxStateEntries,
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
    return { drafts };
  }

  checkpoint(): string {
    return JSON.stringify(this.engine.checkpoint());
  }

  restore(state: string | undefined): void {
    this.results = [];
    if (state === undefined) {
      this.engine = this.newEngine();
      return;
    }
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
