import { EdgeError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { CHECKPOINT_VERSION, decodeState, encodeState, type EngineCheckpoint } from './checkpoint.js';
import { EventTimeStage, type StageEvent } from './event-time.js';
import type { Emit, Row, WindowOperator } from './operator.js';
import type { QueryPlan, StatementPlan, WindowPlan } from './plan.js';
import { FanOut } from './windows/fan-out.js';
import { StepHub } from './step-hub.js';
import { SubstreamStage, type InputStage } from './substreams.js';
import { newCounters, resolveTolerances, StateBudget, type Counters, type Tolerances } from './tolerances.js';
import { AnalyticOperator } from './windows/analytic.js';
import { ApplyOperator } from './windows/apply.js';
import { JoinOperator } from './windows/join.js';
import { ReferenceJoinOperator } from './windows/reference-join.js';
import { checkedRows, ReferenceTable } from './reference-table.js';
import { Grouping } from './windows/groups.js';
import { OrderedInput } from './windows/ordered-input.js';
import { PaneWindowOperator } from './windows/panes.js';
import { ProjectionOperator } from './windows/projection.js';
import { SessionWindowOperator } from './windows/session.js';
import { SlidingWindowOperator } from './windows/sliding.js';

/**
 * An input event: `arrivalTime` (epoch ms, when it reached the agent) plus payload fields,
 * which queries read by name (`TIMESTAMP BY appTime`, `GROUP BY point`, `a.b` for nested
 * fields). A StampedReading is one as it is. The default partition is the `source` field.
 */
export interface AnalyticsEvent {
  arrivalTime: number;
  appTime?: number;
  [field: string]: unknown;
}

/** One result row of one window (or one event, for a statement without GROUP BY). */
export interface ResultRow {
  query: string;
  /** The INTO output. */
  output: string;
  /** Window start, exclusive (sessions: first event, inclusive); null for snapshot and non-windowed rows. */
  windowStart: number | null;
  /** Window end, inclusive: the row's System.Timestamp(). */
  windowEnd: number;
  /** GROUP BY values as canonical JSON (an array in GROUP BY order). */
  key: string;
  /** 0 for the first emission; revise-policy corrections count up. */
  rev: number;
  /** The SELECT columns by alias. Datetimes are Date objects. */
  row: Record<string, unknown>;
}

export interface EngineOptions {
  queries: QueryPlan[];
  tolerances?: Partial<Tolerances>;
  /** Per-query bound on held events and open window groups; EDGE_QUERY_STATE_LIMIT beyond it. */
  maxStateEntries?: number;
  /** Called for every result row, in order. Without it, rows collect for `drain()`. */
  onResult?: (row: ResultRow) => void;
  /** Debug level traces every adjusted or dropped event; info reports restores. A child per query is made. */
  logger?: Logger;
  /** Reference data by input name (see compileQuery's referenceInputs); setReferenceData replaces a table later. */
  referenceData?: Record<string, ReadonlyArray<Record<string, unknown>>>;
  /**
   * Named inputs (FROM a driver, a source, a point set in config): which events belong to each.
   * A query's FROM name found here reads only those events; one not found reads events whose
   * `input` (else `source`) field is that name when the query reads several inputs, else all.
   */
  inputs?: Record<string, InputFilter>;
}

/** Whether an event belongs to a named input. */
export type InputFilter = (event: AnalyticsEvent) => boolean;

export const DEFAULT_MAX_STATE_ENTRIES = 1_000_000;

/**
 * A statement in the running graph: its operator, and the statements reading its rows. A
 * windowed statement fed by substreams (directly, or through a step) may be handed a row behind
 * the watermark it already has, from a key whose own timeline is behind the combined one; that
 * row is out of order here and the policy decides, as the event-time stage does for an event.
 */
class StatementNode implements WindowOperator {
  private wm = -Infinity;
  constructor(
    readonly plan: StatementPlan,
    public op: WindowOperator,
    private readonly tol: Tolerances,
    private readonly counters: Counters,
    /** For a WITH step: where its rows and watermarks go, and which branch (UNION) this is. */
    private readonly hub: StepHub | null = null,
    private readonly branch = 0,
  ) {}
  onEvent(row: Row, t: number, seq: number): void {
    if (t < this.wm && this.plan.grouped !== null) this.behind(row, t, seq);
    else this.op.onEvent(row, t, seq);
  }
  onLateEvent(row: Row, t: number, seq: number): void {
    this.op.onLateEvent(row, t, seq);
  }
  onWatermark(wm: number): void {
    if (wm > this.wm) this.wm = wm;
    this.op.onWatermark(wm);
    // A step's rows are stamped before wm, so downstream sees them before the watermark itself.
    this.stepWatermark(wm);
  }
  /** A step's watermark for its readers (also called by substream and join stages that bypass onWatermark). */
  stepWatermark(wm: number): void {
    if (this.hub !== null) this.hub.watermark(this.branch, wm);
  }
  private behind(row: Row, t: number, seq: number): void {
    const c = this.counters;
    c.outOfOrder++;
    if (this.tol.policy === 'adjust') {
      c.adjusted++;
      this.op.onEvent(row, this.wm, seq);
    } else if (this.tol.policy === 'revise' && t >= this.wm - this.tol.allowedLatenessMs) {
      this.op.onLateEvent(row, t, seq);
    } else {
      c.dropped++;
    }
  }
  save(): unknown {
    return { wm: this.wm, op: this.op.save() };
  }
  load(s: unknown): void {
    const st = s as { wm?: number; op: unknown };
    this.wm = st.wm ?? -Infinity;
    this.op.load(st.op);
  }
}

class QueryRuntime {
  readonly counters: Counters = newCounters();
  readonly nodes: StatementNode[] = [];
  readonly stages: InputStage[] = [];
  /** Per stage, which events are its input's; null: every event (a query reading one input only). */
  readonly stageInputs: Array<InputFilter | null> = [];
  /** Whether events are routed to inputs at all (so one read by no statement is counted). */
  readonly routed: boolean;
  /** The WITH steps' hubs, in statement order. */
  readonly hubs: StepHub[] = [];
  readonly budget: StateBudget;

  constructor(
    readonly plan: QueryPlan,
    tol: Tolerances,
    maxState: number,
    deliver: (r: ResultRow) => void,
    log: Logger | null,
    tables: ReadonlyMap<string, ReferenceTable>,
    inputs: ReadonlyMap<string, InputFilter>,
  ) {
    this.budget = new StateBudget(plan.name, maxState);
    const hubs = new Map<string, StepHub>();
    const lateness = tol.policy === 'revise' ? tol.allowedLatenessMs : 0;
    const several = plan.inputs.length > 1;
    this.routed = several || plan.inputs.some((n) => inputs.has(n));
    const addStage = (st: InputStage, from: string) => {
      this.stages.push(st);
      const name = from.toLowerCase();
      this.stageInputs.push(inputs.get(name) ?? (several ? (ev) => inputOf(ev) === name : null));
    };
    for (const s of plan.statements) {
      let hub: StepHub | null = null;
      if (s.isStep) {
        // UNION branches of one step share its hub.
        hub = hubs.get(s.name.toLowerCase()) ?? null;
        if (hub === null) {
          hub = new StepHub();
          hubs.set(s.name.toLowerCase(), hub);
          this.hubs.push(hub);
        }
      }
      const branch = hub === null ? 0 : hub.branch();
      const stepHub = hub;
      const emit: Emit =
        stepHub !== null
          ? (_ws, we, _key, rev, row) => {
              // Revisions stay at the step that made them; downstream steps have already counted the row.
              if (rev > 0) return;
              stepHub.row(row, we);
            }
          : (ws, we, key, rev, row) => deliver({ query: plan.name, output: s.name, windowStart: ws, windowEnd: we, key, rev, row });
      const readerOf = (from: string): StepHub => hubs.get(from.toLowerCase())!;
      if (s.join !== null && s.join.right.reference) {
        const j = s.join;
        const name = j.right.from.toLowerCase();
        const op = new ReferenceJoinOperator(j, () => tables.get(name), this.windowOperatorFor(s, emit, lateness), this.counters);
        const n = new StatementNode(s, op, tol, this.counters, hub, branch);
        this.nodes.push(n);
        if (j.left.fromStep) readerOf(j.left.from).consumers.push(n);
        else addStage(new EventTimeStage(tol, j.left.timestamp, j.left.over, n, this.counters, this.budget, log), j.left.from);
        continue;
      }
      if (s.join !== null) {
        const j = s.join;
        let joinNode: StatementNode | null = null;
        const op = new JoinOperator(j, this.windowOperatorFor(s, emit, lateness), this.budget, this.counters, (wm) => joinNode!.stepWatermark(wm));
        joinNode = new StatementNode(s, op, tol, this.counters, hub, branch);
        this.nodes.push(joinNode);
        [j.left, j.right].forEach((side, i) => {
          const port = op.port(i as 0 | 1);
          if (side.fromStep) readerOf(side.from).consumers.push(port);
          else addStage(new EventTimeStage(tol, side.timestamp, side.over, port, this.counters, this.budget, log), side.from);
        });
        continue;
      }
      const n = new StatementNode(s, this.operatorFor(s, emit, lateness), tol, this.counters, hub, branch);
      this.nodes.push(n);
      if (s.fromStep) readerOf(s.from).consumers.push(n);
      else if (s.substreams && s.perKeyOperators) {
        // Each key has its own operator; only a step's readers combine keys again.
        const combined = s.isStep ? (wm: number) => n.stepWatermark(wm) : null;
        addStage(new SubstreamStage(tol, s.timestamp, s.over, { perKey: () => this.operatorFor(s, emit, lateness) }, combined, this.counters, this.budget, log), s.from);
      } else if (s.substreams) {
        addStage(new SubstreamStage(tol, s.timestamp, s.over, { shared: n }, (wm) => n.onWatermark(wm), this.counters, this.budget, log), s.from);
      } else {
        addStage(new EventTimeStage(tol, s.timestamp, s.over, n, this.counters, this.budget, log), s.from);
      }
    }
  }

  operatorFor(s: StatementPlan, emit: Emit, lateness: number): WindowOperator {
    let op = this.windowOperatorFor(s, emit, lateness);
    if (s.analytics.length > 0) op = new AnalyticOperator(s.analytics, op, this.budget, this.counters);
    return s.apply !== null ? new ApplyOperator(s.apply, op, this.counters) : op;
  }

  private windowOperatorFor(s: StatementPlan, emit: Emit, lateness: number): WindowOperator {
    const g = s.grouped;
    if (g === null) return new ProjectionOperator(s, emit, this.counters);
    const ops = g.windows.map(({ id, window }) => this.oneWindow(window, new Grouping(g, s.where, s.columns, g.having, emit, this.counters, id), lateness));
    return ops.length === 1 ? ops[0]! : new FanOut(ops);
  }

  private oneWindow(w: WindowPlan, grouping: Grouping, lateness: number): WindowOperator {
    switch (w.kind) {
      case 'tumbling':
      case 'hopping':
        return new PaneWindowOperator({ size: w.size, hop: w.hop, offset: w.offset, snapshot: false }, grouping, this.budget, this.counters, lateness);
      case 'snapshot':
        return new PaneWindowOperator({ size: 1, hop: 1, offset: 0, snapshot: true }, grouping, this.budget, this.counters, lateness);
      case 'sliding':
        return new OrderedInput(new SlidingWindowOperator(w.size, grouping, this.budget, this.counters), this.budget);
      case 'session':
        return new OrderedInput(new SessionWindowOperator(w.timeout, w.maxDuration, w.partitionBy, grouping, this.budget, this.counters), this.budget);
    }
  }

  save(): unknown {
    return { counters: this.counters, stages: this.stages.map((s) => s.save()), nodes: this.nodes.map((n) => n.save()), hubs: this.hubs.map((h) => h.save()) };
  }

  load(state: unknown): void {
    const s = state as { counters: Counters; stages: unknown[]; nodes: unknown[]; hubs?: unknown[] };
    if (s.hubs !== undefined) this.hubs.forEach((h, i) => h.load(s.hubs![i]));
    if (s.stages.length !== this.stages.length || s.nodes.length !== this.nodes.length) {
      throw new EdgeError('EDGE_STORE_CORRUPT', `analytics checkpoint for query '${this.plan.name}' does not match the query's statements`);
    }
    Object.assign(this.counters, s.counters);
    this.stages.forEach((st, i) => st.load(s.stages[i]));
    this.nodes.forEach((n, i) => n.load(s.nodes[i]));
  }
}

/**
 * The input an event belongs to, for a query that reads several (`FROM entry … JOIN exit …`):
 * its `input` field, else its `source` (the device or driver it came from), lower-cased.
 */
function inputOf(ev: AnalyticsEvent): string {
  const v = typeof ev.input === 'string' ? ev.input : ev.source;
  // Several statements ask about the same event in a row: remember the last answer.
  if (v === lastRaw && typeof v === 'string') return lastInput;
  lastRaw = v;
  lastInput = typeof v === 'string' ? v.toLowerCase() : v == null ? '' : String(v).toLowerCase();
  return lastInput;
}

let lastRaw: unknown = undefined;
let lastInput = '';

/**
 * Runs compiled queries over a stream of events: event-time stage → window operators → rows.
 * Time only comes from the events (`arrivalTime`, TIMESTAMP BY) and from `advance()`; the engine
 * never reads a clock, so a replay and a live run of the same input give the same rows.
 */
export class AnalyticsEngine {
  private runtimes: QueryRuntime[] = [];
  private readonly tolerances: Tolerances;
  private readonly maxState: number;
  private readonly plans: QueryPlan[];
  private readonly collected: ResultRow[] = [];
  private readonly deliver: (r: ResultRow) => void;
  private readonly log: Logger | null;
  /** Reference data by lower-cased input name; each table is replaced whole. */
  private readonly tables = new Map<string, ReferenceTable>();
  private readonly inputs = new Map<string, InputFilter>();

  constructor(opts: EngineOptions) {
    if (!Array.isArray(opts.queries) || opts.queries.length === 0) throw new TypeError('AnalyticsEngine needs at least one compiled query');
    const names = new Set<string>();
    for (const q of opts.queries) {
      if (names.has(q.name)) throw new TypeError(`two analytics queries are named '${q.name}'`);
      names.add(q.name);
    }
    this.plans = opts.queries;
    this.tolerances = resolveTolerances(opts.tolerances);
    this.maxState = opts.maxStateEntries ?? DEFAULT_MAX_STATE_ENTRIES;
    const onResult = opts.onResult;
    this.deliver = onResult ?? ((r) => this.collected.push(r));
    this.log = opts.logger ? opts.logger.child({ module: 'analytics' }) : null;
    for (const [name, rows] of Object.entries(opts.referenceData ?? {})) this.setReferenceData(name, rows);
    for (const [name, f] of Object.entries(opts.inputs ?? {})) {
      if (typeof f !== 'function') throw new TypeError(`analytics input '${name}' needs a function telling its events`);
      this.inputs.set(name.toLowerCase(), f);
    }
    this.build();
  }

  /**
   * Gives (or replaces) the table of a reference input, e.g. after its CSV/JSON file or the
   * twin's desired properties changed. The swap is atomic: events pushed after it see the new
   * table, none sees a mix. Throws EDGE_CONFIG_INVALID, leaving the old table, when `rows` is not
   * a list of records. Reference data is input, not state: checkpoint() leaves it out.
   */
  setReferenceData(name: string, rows: ReadonlyArray<Record<string, unknown>>): void {
    this.tables.set(name.toLowerCase(), new ReferenceTable(name, checkedRows(name, rows)));
  }

  private build(): void {
    this.runtimes = this.plans.map((p) => new QueryRuntime(p, this.tolerances, this.maxState, this.deliver, this.log ? this.log.child({ query: p.name }) : null, this.tables, this.inputs));
  }

  /**
   * Feeds one event to every query. Throws EDGE_QUERY_STATE_LIMIT (naming the query) when a
   * query's state bound is hit; the engine should then be rebuilt or restored from a checkpoint.
   */
  push(event: AnalyticsEvent): void {
    const rts = this.runtimes;
    for (let i = 0; i < rts.length; i++) {
      const rt = rts[i]!;
      rt.counters.inputEvents++;
      const stages = rt.stages;
      const filters = rt.stageInputs;
      let read = false;
      for (let j = 0; j < stages.length; j++) {
        const f = filters[j]!;
        // Another input's event still says how far arrival time has come (the idle-input rule).
        if (f !== null && !f(event)) {
          stages[j]!.advance(event.arrivalTime);
          continue;
        }
        read = true;
        stages[j]!.push(event as StageEvent);
      }
      if (!read && rt.routed) rt.counters.unmatchedInput++;
    }
  }

  /** Arrival time has reached `arrivalTime` with no events: lets idle queries emit. */
  advance(arrivalTime: number): void {
    for (const rt of this.runtimes) for (const st of rt.stages) st.advance(arrivalTime);
  }

  /** End of input: every held event is released and every window emitted. */
  flush(): void {
    for (const rt of this.runtimes) for (const st of rt.stages) st.flush();
  }

  /** Rows collected since the last drain (only when no onResult callback was given). */
  drain(): ResultRow[] {
    return this.collected.splice(0, this.collected.length);
  }

  counters(): Record<string, Counters> {
    const out: Record<string, Counters> = {};
    for (const rt of this.runtimes) {
      const delay = Math.max(0, ...rt.stages.map((s) => s.watermarkDelay()));
      out[rt.plan.name] = { ...rt.counters, watermarkDelayMs: delay };
    }
    return out;
  }

  /** The watermark of each query (its slowest input statement), epoch ms; -Infinity before any event. */
  watermarks(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const rt of this.runtimes) out[rt.plan.name] = Math.min(...rt.stages.map((s) => s.currentWatermark));
    return out;
  }

  /**
   * Open windows, reorder buffers, watermarks and counters as JSON. Persist it with the journal
   * cursor of the last pushed event; `restore()` then continues exactly where this run was.
   */
  checkpoint(): EngineCheckpoint {
    const queries: EngineCheckpoint['queries'] = {};
    for (const rt of this.runtimes) queries[rt.plan.name] = { text: rt.plan.text, state: encodeState(rt.save()) };
    return { v: CHECKPOINT_VERSION, queries };
  }

  /**
   * Replaces all state with a checkpoint's. A query whose text changed since the checkpoint (a
   * new twin configuration), or that the checkpoint does not know, starts empty: its old windows
   * cannot be carried into a different query. Returns which queries resumed and which started over.
   */
  restore(checkpoint: EngineCheckpoint): { resumed: string[]; reset: string[] } {
    if (checkpoint === null || typeof checkpoint !== 'object' || checkpoint.v !== CHECKPOINT_VERSION || typeof checkpoint.queries !== 'object') {
      throw new EdgeError('EDGE_STORE_CORRUPT', 'analytics checkpoint has an unknown version');
    }
    this.build();
    const resumed: string[] = [];
    const reset: string[] = [];
    for (const rt of this.runtimes) {
      const q = checkpoint.queries[rt.plan.name];
      if (q === undefined || q.text !== rt.plan.text) {
        reset.push(rt.plan.name);
        continue;
      }
      rt.load(decodeState(q.state));
      resumed.push(rt.plan.name);
    }
    this.log?.info({ resumed, reset }, reset.length ? 'analytics state restored; changed queries start empty' : 'analytics state restored');
    return { resumed, reset };
  }
}
