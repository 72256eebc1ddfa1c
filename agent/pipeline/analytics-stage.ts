import type { Logger } from '../core/logger.js';
import { AnalyticsEngine, compileQuery, eventFromReading, toResultRecord, type EngineCheckpoint, type Tolerances } from '../analytics/index.js';
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
 * The engines' state (open windows, reorder buffers, watermarks) depends only on the events and
 * times they were given, so the pipeline can checkpoint it at intervals and replay the steps since.
 *
 * One engine per query, fed in the order one engine for all would feed its queries (so the rows
 * come in the same order): a checkpoint then serialises one query at a time, and the heap holds
 * one query's copy of its state instead of every query's (at 5,000 points and 10 queries, the
 * whole copy took more than the unit's 96 MB heap).
 */
export class AnalyticsStage implements RecordStage {
  private engines: AnalyticsEngine[];
  /** The current step's records: results become drafts as they come (a window end over 5,000 points emits tens of thousands at once). */
  private drafts: RecordDraft[] = [];

  constructor(private readonly options: AnalyticsStageOptions) {
    const names = new Set(options.queries.map((q) => q.name));
    if (names.size !== options.queries.length) throw new TypeError('two analytics queries have the same name');
    this.engines = options.queries.map((q) => this.newEngine(q));
  }

  private newEngine(q: { name: string; query: string }): AnalyticsEngine {
    return new AnalyticsEngine({
      queries: [compileQuery(q.query, q.name)],
      tolerances: this.options.tolerances,
      maxStateEntries: this.options.maxStateEntries,
      onResult: (row) => this.drafts.push(toResultRecord(row)),
    });
  }

  process(entries: JournalEntry[], now: number): StageOutput {
    let drafts: RecordDraft[] = [];
    for (const piece of this.pieces(entries, now, Number.POSITIVE_INFINITY)) drafts = drafts.length === 0 ? piece : drafts.concat(piece);
    return { drafts };
  }

  /** Readings first, then the results as the engines emit them (a window end over 5,000 groups is 5,000 per query). */
  *pieces(entries: JournalEntry[], now: number, max: number): Generator<RecordDraft[]> {
    this.drafts = [];
    if (this.options.forwardReadings && entries.length > 0) yield entries.map((e) => readingRecord(e.reading));
    const engines = this.engines;
    for (const e of entries) {
      const event = eventFromReading(e.reading);
      for (let i = 0; i < engines.length; i++) engines[i]!.push(event);
      if (this.drafts.length >= max) yield this.take();
    }
    // Lets windows close on arrival time when a line goes quiet (ASA's "no incoming events").
    for (const engine of engines) {
      engine.advance(now);
      if (this.drafts.length >= max) yield this.take();
    }
    if (this.drafts.length > 0) yield this.take();
  }

  private take(): RecordDraft[] {
    const out = this.drafts;
    this.drafts = [];
    return out;
  }

  /** One engine checkpoint (one query) per line, so neither writing nor reading holds all at once. */
  checkpoint(): Buffer[] {
    return this.engines.map((engine, i) => Buffer.from((i > 0 ? '\n' : '') + JSON.stringify(engine.checkpoint()), 'utf8'));
  }

  /** Takes what `checkpoint` wrote, or the single checkpoint of all queries that stages before it wrote. */
  restore(state: string | undefined): void {
    this.drafts = [];
    this.engines = this.options.queries.map((q) => this.newEngine(q));
    if (state === undefined) return;
    const restored = new Set<number>();
    const resumed: string[] = [];
    const reset: string[] = [];
    for (const line of state.split('\n')) {
      const checkpoint = JSON.parse(line) as EngineCheckpoint;
      const names = new Set(Object.keys(checkpoint.queries ?? {}));
      this.options.queries.forEach((q, i) => {
        if (restored.has(i) || !names.has(q.name)) return;
        const r = this.engines[i]!.restore(checkpoint);
        restored.add(i);
        resumed.push(...r.resumed);
        reset.push(...r.reset);
      });
    }
    for (const [i, q] of this.options.queries.entries()) if (!restored.has(i)) reset.push(q.name);
    if (reset.length > 0) this.options.logger.warn({ resumed, reset }, 'analytics: queries changed since the checkpoint start from empty state');
  }

  counters(): ReturnType<AnalyticsEngine['counters']> {
    return Object.assign({}, ...this.engines.map((e) => e.counters())) as ReturnType<AnalyticsEngine['counters']>;
  }

  watermarks(): Record<string, number> {
    return Object.assign({}, ...this.engines.map((e) => e.watermarks())) as Record<string, number>;
  }
}
