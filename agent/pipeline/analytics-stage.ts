import type { Logger } from '../core/logger.js';
import { AnalyticsEngine, compileQuery, eventFromReading, toResultRecord, type Counters, type EngineCheckpoint, type InputFilter, type QueryPlan, type Tolerances } from '../analytics/index.js';
import type { JournalEntry } from '../journal/journal.js';
import type { RecordDraft } from '../outbox/outbox.js';
import type { RecordClass } from '../core/wire.js';
import { isDeadbandCheckpoint, type Deadband } from './deadband.js';
import { inputFilters, type InputSelection } from './input-selection.js';
import { readingRecord } from './reading-records.js';
import { ReferenceTables, type ReferenceRows, type ReferenceSpec, type ReferenceStatus } from './reference-files.js';
import type { RecordStage, StageOutput } from './stage.js';

export interface AnalyticsStageOptions {
  queries: Array<{ name: string; query: string; priority?: RecordClass }>;
  tolerances: Partial<Tolerances>;
  maxStateEntries: number;
  /** Forward raw readings as well as the results. */
  forwardReadings: boolean;
  logger: Logger;
  /** Named inputs for FROM (`analytics.inputs`). */
  inputs?: Record<string, InputSelection>;
  /** Reference tables for JOIN (`analytics.reference`): files checked at `pollMs`, or inline rows. */
  reference?: Record<string, ReferenceSpec>;
  /** Report-by-exception on the forwarded readings (the queries see them all); checkpointed with the engines. */
  deadband?: Deadband;
}

/** A query's counters, with the state of the reference tables it joins. */
export type StageCounters = Counters & { reference?: Record<string, ReferenceStatus> };

/**
 * Runs the configured queries over the journal's readings. Results become `result` records.
 * The engines' state (open windows, reorder buffers, watermarks) depends only on the events and
 * times they were given, so the pipeline can checkpoint it at intervals and replay the steps since.
 *
 * One engine per query, fed in the order one engine for all would feed its queries (so the rows
 * come in the same order): a checkpoint then serialises one query at a time, and the heap holds
 * one query's copy of its state instead of every query's (at 5,000 points and 10 queries, the
 * whole copy took more than the unit's 96 MB heap).
 *
 * Reference tables are input, not state: a file that changed is taken at the start of a step,
 * before its readings, and a restart's replay of the steps since the last checkpoint joins the
 * tables in force at the restart (their output is dropped, but windows fed by a join are rebuilt
 * from the new table).
 */
export class AnalyticsStage implements RecordStage {
  private engines: AnalyticsEngine[];
  /** The current step's records: results become drafts as they come (a window end over 5,000 points emits tens of thousands at once). */
  private drafts: RecordDraft[] = [];
  private readonly plans: QueryPlan[];
  /** Per query (by index), the reference inputs it joins, lower-cased. */
  private readonly joins: string[][];
  private readonly inputs: Record<string, InputFilter>;
  private readonly references: ReferenceTables;
  /** The tables in force, by configured name; engines built later (restore) start with these. */
  private readonly tables: Record<string, ReferenceRows>;
  /** Queries whose results go in another class than `result` (their `priority`). */
  private readonly classes: Map<string, RecordClass>;

  constructor(private readonly options: AnalyticsStageOptions) {
    const names = new Set(options.queries.map((q) => q.name));
    this.classes = new Map(options.queries.flatMap((q) => (q.priority && q.priority !== 'result' ? [[q.name, q.priority] as const] : [])));
    if (names.size !== options.queries.length) throw new TypeError('two analytics queries have the same name');
    const referenceInputs = Object.keys(options.reference ?? {});
    this.plans = options.queries.map((q) => compileQuery(q.query, q.name, { referenceInputs }));
    this.joins = this.plans.map((p) => [...new Set(p.statements.flatMap((st) => (st.join?.right.reference ? [st.join.right.from.toLowerCase()] : [])))]);
    this.inputs = inputFilters(options.inputs ?? {});
    // A table no query joins is not read: nothing uses it, and status shows tables under the queries joining them.
    const joined = new Set(this.joins.flat());
    this.references = new ReferenceTables(Object.fromEntries(Object.entries(options.reference ?? {}).filter(([name]) => joined.has(name.toLowerCase()))), options.logger);
    this.tables = this.references.all();
    this.engines = this.plans.map((p) => this.newEngine(p));
  }

  private newEngine(plan: QueryPlan): AnalyticsEngine {
    return new AnalyticsEngine({
      queries: [plan],
      tolerances: this.options.tolerances,
      maxStateEntries: this.options.maxStateEntries,
      onResult: (row) => {
        const cls = this.classes.get(row.query);
        this.drafts.push(cls ? { ...toResultRecord(row), cls } : toResultRecord(row));
      },
      referenceData: this.tables,
      inputs: this.inputs,
    });
  }

  /** A changed file's table goes to every engine at once, between two steps' readings (atomic per engine). */
  private takeReferenceChanges(now: number): void {
    for (const [name, rows] of this.references.poll(now)) {
      this.tables[name] = rows;
      this.plans.forEach((_p, i) => {
        if (this.joins[i]!.includes(name.toLowerCase())) this.engines[i]!.setReferenceData(name, rows);
      });
    }
  }

  process(entries: JournalEntry[], now: number): StageOutput {
    let drafts: RecordDraft[] = [];
    for (const piece of this.pieces(entries, now, Number.POSITIVE_INFINITY)) drafts = drafts.length === 0 ? piece : drafts.concat(piece);
    return { drafts };
  }

  /** Readings first, then the results as the engines emit them (a window end over 5,000 groups is 5,000 per query). */
  *pieces(entries: JournalEntry[], now: number, max: number): Generator<RecordDraft[]> {
    this.takeReferenceChanges(now);
    this.drafts = [];
    if (this.options.forwardReadings && entries.length > 0) yield this.options.deadband?.forward(entries) ?? entries.map((e) => readingRecord(e.reading));
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

  /**
   * One engine checkpoint (one query) per line, so neither writing nor reading holds all at once,
   * made as the caller takes them: it may let the event loop run between two (10 queries × 5,000
   * groups took ~0.9 s in one go, and every driver's poll waited behind it).
   */
  *checkpoint(): Generator<Buffer> {
    for (const [i, engine] of this.engines.entries()) yield Buffer.from((i > 0 ? '\n' : '') + JSON.stringify(engine.checkpoint()), 'utf8');
    // Its own line, last: a stage without a deadband (or an older build) passes over it.
    if (this.options.deadband && this.options.forwardReadings) yield Buffer.from((this.engines.length > 0 ? '\n' : '') + JSON.stringify(this.options.deadband.checkpoint()), 'utf8');
  }

  /** Takes what `checkpoint` wrote, or the single checkpoint of all queries that stages before it wrote. */
  restore(state: string | undefined): void {
    this.drafts = [];
    this.engines = this.plans.map((p) => this.newEngine(p));
    this.options.deadband?.restore(undefined);
    if (state === undefined) return;
    const restored = new Set<number>();
    const resumed: string[] = [];
    const reset: string[] = [];
    for (const line of state.split('\n')) {
      const parsed = JSON.parse(line) as unknown;
      if (isDeadbandCheckpoint(parsed)) {
        this.options.deadband?.restore(parsed);
        continue;
      }
      const checkpoint = parsed as EngineCheckpoint;
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

  resumed(): void {
    this.options.deadband?.resumed();
  }

  counters(): Record<string, StageCounters> {
    const out = Object.assign({}, ...this.engines.map((e) => e.counters())) as Record<string, StageCounters>;
    const status = this.references.status();
    this.plans.forEach((p, i) => {
      const joined = Object.entries(status).filter(([name]) => this.joins[i]!.includes(name.toLowerCase()));
      if (joined.length > 0 && out[p.name]) out[p.name] = { ...out[p.name]!, reference: Object.fromEntries(joined) };
    });
    return out;
  }

  watermarks(): Record<string, number> {
    return Object.assign({}, ...this.engines.map((e) => e.watermarks())) as Record<string, number>;
  }
}
