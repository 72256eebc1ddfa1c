import type { Duration, Expr, Position, QueryAst, SelectStatement, WindowSpec } from './ast.js';
import { AGGREGATE_NAMES } from './aggregates.js';
import { ENVELOPE_FIELDS, QueryError } from './diagnostics.js';
import { compileExpr, exprText, type AggregateCall, type AnalyticCall, type CompileScope, type Eval } from './expressions.js';
import { stripSource, visit } from './ast-walk.js';
import { planJoin, type JoinPlan } from './join-plan.js';
import { parseQuery } from './parser.js';
import { windowMillis, windowUnit } from './time-units.js';
import { isTrue } from './values.js';

/** A window with every size in milliseconds. Offsets are normalised into [0, hop). */
export type WindowPlan =
  | { kind: 'tumbling' | 'hopping'; size: number; hop: number; offset: number }
  | { kind: 'snapshot' }
  | { kind: 'sliding'; size: number }
  | { kind: 'session'; timeout: number; maxDuration: number | null; partitionBy: Eval[] };

export interface OutputColumn {
  name: string;
  eval: Eval;
  /** `SELECT *`: the event's own fields are copied into the row. */
  star: boolean;
}

export interface GroupedPlan {
  keys: Eval[];
  /** The window; with Windows(…), the first of `windows`. */
  window: WindowPlan;
  /** Every window of the GROUP BY with its id (System.Window().Id); one entry without Windows(…). */
  windows: Array<{ id: string | null; window: WindowPlan }>;
  aggregates: AggregateCall[];
  having: Eval | null;
}

/** One SELECT: a WITH step or an output statement. */
export interface StatementPlan {
  index: number;
  /** The step name, or the INTO output name. */
  name: string;
  isStep: boolean;
  from: string;
  /** True when FROM names an earlier WITH step rather than the input stream. */
  fromStep: boolean;
  /** TIMESTAMP BY; null means the query runs on arrival time (DESIGN §4). */
  timestamp: Eval | null;
  /** TIMESTAMP BY … OVER columns; empty means one partition per source device. */
  over: Eval[];
  where: Eval | null;
  grouped: GroupedPlan | null;
  columns: OutputColumn[];
  /** Whether the window operator needs its input in time order (sliding, session). */
  ordered: boolean;
  /**
   * ASA substreams: TIMESTAMP BY … OVER on an input. Each OVER value runs on its own timeline
   * (see substreams.ts), whatever the statement groups by.
   */
  substreams: boolean;
  /**
   * Substreams whose rows need no other key's events (no GROUP BY, or GROUP BY holds every OVER
   * column): each key also gets its own window operator. Otherwise keys share one operator.
   */
  perKeyOperators: boolean;
  /** LAG, LAST, ISFIRST calls: evaluated on the statement's input in time order, before WHERE. */
  analytics: AnalyticCall[];
  /** A stream–stream JOIN: its two sides replace `from`/`timestamp`/`over`, and its rows feed the rest. */
  join: JoinPlan | null;
  /** CROSS APPLY: each event becomes one row per array element or record property, before anything else. */
  apply: ApplyPlan | null;
}

export interface ApplyPlan {
  /** GetRecordProperties (PropertyName, PropertyValue) rather than GetArrayElements (ArrayIndex, ArrayValue). */
  records: boolean;
  arg: Eval;
  alias: string;
}

export interface QueryPlan {
  name: string;
  text: string;
  statements: StatementPlan[];
  /** Output names (INTO) in statement order. */
  outputs: string[];
  /**
   * The inputs read (FROM and JOIN names that are not steps), lower-cased. With more than one,
   * each event goes to the statements reading its input (its `input` field, else its `source`).
   */
  inputs: string[];
}

const MAX_WINDOW_MS = 7 * 86_400_000;

/**
 * Parses and plans an ASA query. Throws a QueryError (EDGE_QUERY_SYNTAX or
 * EDGE_QUERY_UNSUPPORTED) with line:column and a caret when the text cannot run.
 */
export interface CompileOptions {
  /**
   * Inputs that are reference data (tables given to the engine with setReferenceData), not
   * streams: `JOIN` against them needs no time bound. Matched case-insensitively.
   */
  referenceInputs?: string[];
}

export function compileQuery(text: string, name: string, opts: CompileOptions = {}): QueryPlan {
  // Editors on Windows save a UTF-8 byte order mark; it is not part of the query.
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const ast = parseQuery(text, name);
  return planQuery(ast, text, name, new Set((opts.referenceInputs ?? []).map((r) => r.toLowerCase())));
}

function planQuery(ast: QueryAst, text: string, name: string, refs: Set<string>): QueryPlan {
  const statements: StatementPlan[] = [];
  const stepNames = new Map<string, Position>();
  const fail = (pos: Position, reason: string): never => {
    throw new QueryError('EDGE_QUERY_SYNTAX', name, text, pos, reason);
  };
  for (const step of ast.steps) {
    const key = step.name.toLowerCase();
    if (stepNames.has(key)) fail(step.pos, `step '${step.name}' is defined twice`);
    if (step.select.into) fail(step.select.pos, `a WITH step cannot have INTO`);
    for (const branch of unionBranches(step.select, text, name)) statements.push(planStatement(branch, step.name, true, stepNames, statements.length, text, name, refs));
    stepNames.set(key, step.pos);
  }
  const outputs: string[] = [];
  for (const select of ast.selects) {
    const out = select.into ?? 'output';
    if (outputs.some((o) => o.toLowerCase() === out.toLowerCase()) && ast.selects.length > 1) {
      fail(select.pos, `output '${out}' is written by two SELECT statements`);
    }
    outputs.push(out);
    for (const branch of unionBranches(select, text, name)) statements.push(planStatement(branch, out, false, stepNames, statements.length, text, name, refs));
  }
  const inputs = new Set<string>();
  for (const st of statements) {
    if (st.join) {
      for (const side of [st.join.left, st.join.right]) if (!side.fromStep && !side.reference) inputs.add(side.from.toLowerCase());
    } else if (!st.fromStep) {
      inputs.add(st.from.toLowerCase());
    }
  }
  return { name, text, statements, outputs, inputs: [...inputs] };
}

/**
 * A SELECT and its UNION branches, each planned as a statement of its own with the same target.
 * Branches must give as many columns as the first; the first's names are the output's.
 */
function unionBranches(first: SelectStatement, text: string, queryName: string): SelectStatement[] {
  if (first.union.length === 0) return [first];
  const width = first.items.length;
  const names = first.items.map((it, i) => it.alias ?? defaultName(it.expr, i));
  if (first.items.some((it) => it.expr.kind === 'star')) {
    throw new QueryError('EDGE_QUERY_UNSUPPORTED', queryName, text, first.pos, 'unsupported: SELECT * in a UNION (name the columns)');
  }
  return [
    first,
    ...first.union.map((b) => {
      if (b.items.length !== width || b.items.some((it) => it.expr.kind === 'star')) {
        throw new QueryError('EDGE_QUERY_SYNTAX', queryName, text, b.pos, `every SELECT of a UNION must give the same ${width} column${width === 1 ? '' : 's'}`);
      }
      return { ...b, items: b.items.map((it, i) => ({ ...it, alias: names[i]! })) };
    }),
  ];
}

function planStatement(
  s: SelectStatement,
  name: string,
  isStep: boolean,
  steps: Map<string, Position>,
  index: number,
  text: string,
  queryName: string,
  refs: Set<string>,
): StatementPlan {
  const fail = (pos: Position, reason: string): never => {
    throw new QueryError('EDGE_QUERY_SYNTAX', queryName, text, pos, reason);
  };
  const unsupported = (pos: Position, reason: string): never => {
    throw new QueryError('EDGE_QUERY_UNSUPPORTED', queryName, text, pos, `unsupported: ${reason}`);
  };
  const fromStep = steps.has(s.from.name.toLowerCase());
  const isJoin = s.join !== null;
  // A joined row holds both sides: its columns keep their side's alias (see join-plan.ts).
  const sourceNames = isJoin ? [] : [s.from.name, ...(s.from.alias ? [s.from.alias] : [])];
  const strip = (e: Expr): Expr => (isJoin ? e : stripSource(e, sourceNames));
  const timeScope: CompileScope = { queryName, queryText: text, sourceNames, group: null, where: 'row' };
  const analytics: AnalyticCall[] = [];
  const joinSides = isJoin ? [(s.from.alias ?? s.from.name).toLowerCase(), (s.join!.right.alias ?? s.join!.right.name).toLowerCase()] : undefined;
  const rowScope: CompileScope = { ...timeScope, analytics, joinSides };

  if (s.timestampBy && fromStep) fail(s.timestampBy.pos, `TIMESTAMP BY applies to inputs only; '${s.from.name}' is a step`);
  const timestamp = s.timestampBy && !isJoin ? compileExpr(strip(s.timestampBy.expr), timeScope) : null;
  const over = s.timestampBy && !isJoin ? s.timestampBy.over.map((e) => compileExpr(strip(e), timeScope)) : [];
  const whereAggregate = s.where ? findAggregate(s.where) : null;
  if (whereAggregate) fail(whereAggregate.pos, 'aggregates are not allowed in WHERE; filter windows with HAVING');
  let where = s.where ? compileExpr(strip(s.where), rowScope) : null;

  const items = s.items.map((it) => ({ ...it, expr: strip(it.expr) }));
  const hasAggregate = items.some((it) => containsAggregate(it.expr)) || (s.having !== null && containsAggregate(s.having));

  let grouped: GroupedPlan | null = null;
  const columns: OutputColumn[] = [];
  let ordered = false;
  if (s.groupBy) {
    const window = s.groupBy.window;
    if (!window) unsupported(s.groupBy.pos, 'GROUP BY without a window (add TumblingWindow, HoppingWindow, SlidingWindow, SessionWindow or System.Timestamp())');
    const keyExprs = s.groupBy.keys.map(strip);
    const aggregates: AggregateCall[] = [];
    const group = { keys: keyExprs, keyTexts: keyExprs.map(exprText), aggregates };
    const outScope: CompileScope = { queryName, queryText: text, sourceNames, group, where: 'output', analytics, joinSides };
    const keys = keyExprs.map((k) => {
      if (containsAggregate(k)) fail(k.pos, 'an aggregate cannot be a GROUP BY key');
      return compileExpr(k, rowScope);
    });
    const windows = s.groupBy.windows.map((w) => ({ id: w.id, window: planWindow(w.spec, rowScope, strip, fail, unsupported) }));
    const plannedWindow = windows[0]!.window;
    ordered = windows.some((w) => w.window.kind === 'sliding' || w.window.kind === 'session');
    for (const it of items) {
      if (it.expr.kind === 'star') fail(it.pos, `SELECT * cannot be used with GROUP BY`);
      columns.push({ name: it.alias ?? defaultName(it.expr, columns.length), eval: compileExpr(it.expr, outScope), star: false });
    }
    const having = s.having ? compileExpr(strip(s.having), { ...outScope, aliases: aliasesOf(columns) }) : null;
    grouped = { keys, window: plannedWindow, windows, aggregates, having };
  } else {
    if (hasAggregate) {
      const pos = items.find((it) => containsAggregate(it.expr))?.pos ?? s.pos;
      unsupported(pos, 'an aggregate without GROUP BY and a window');
    }
    for (const it of items) {
      columns.push({ name: it.alias ?? defaultName(it.expr, columns.length), eval: compileExpr(it.expr, rowScope), star: it.expr.kind === 'star' });
    }
    // ASA: HAVING without GROUP BY filters events, as WHERE does (after it, and it may name SELECT aliases).
    if (s.having) where = andEval(where, compileExpr(strip(s.having), { ...rowScope, aliases: aliasesOf(columns) }));
  }
  const seen = new Set<string>();
  for (const c of columns) {
    if (c.star) continue;
    let n = c.name;
    for (let k = 1; seen.has(n.toLowerCase()); k++) n = `${c.name}_${k}`;
    c.name = n;
    seen.add(n.toLowerCase());
  }
  if (!isStep) {
    for (let i = 0; i < columns.length; i++) {
      const c = columns[i]!;
      const clash = ENVELOPE_FIELDS.find((f) => f === c.name.toLowerCase());
      if (clash !== undefined && !c.star) {
        throw new QueryError(
          'EDGE_QUERY_RESERVED_NAME',
          queryName,
          text,
          s.items[i]!.pos,
          `the output column '${c.name}' would collide with the result envelope's '${clash}' field; choose another alias`,
        );
      }
    }
  }
  let apply: ApplyPlan | null = null;
  if (s.apply) {
    if (isJoin) unsupported(s.apply.pos, 'CROSS APPLY together with JOIN');
    apply = { records: s.apply.fn === 'GETRECORDPROPERTIES', arg: compileExpr(strip(s.apply.arg), { ...rowScope, analytics: undefined }), alias: s.apply.alias };
  }
  let join: JoinPlan | null = null;
  if (isJoin) {
    const star = s.items.find((it) => it.expr.kind === 'star');
    if (star) fail(star.pos, 'SELECT * cannot be used with JOIN (ASA): name the columns, e.g. a.x, b.y');
    if (analytics.length > 0) unsupported(s.join!.pos, 'analytic functions (LAG, LAST, ISFIRST) in a JOIN statement');
    join = planJoin(s, new Set(steps.keys()), rowScope, text, queryName, refs);
  }
  const keyTexts = s.groupBy ? s.groupBy.keys.map((k) => exprText(strip(k))) : [];
  const substreams = !isJoin && !fromStep && s.timestampBy !== null && s.timestampBy.over.length > 0;
  const perKeyOperators = substreams && (grouped === null || s.timestampBy!.over.every((e) => keyTexts.includes(exprText(strip(e)))));
  return { index, name, isStep, from: s.from.name, fromStep, timestamp, over, where, grouped, columns, ordered, substreams, perKeyOperators, analytics, join, apply };
}

function planWindow(
  w: WindowSpec,
  scope: CompileScope,
  strip: (e: Expr) => Expr,
  fail: (pos: Position, reason: string) => never,
  unsupported: (pos: Position, reason: string) => never,
): WindowPlan {
  const ms = (d: Duration, what: string, allowZero = false): number => {
    const unit = windowUnit(d.unit);
    if (!unit) {
      const known = /^(year|yy|yyyy|quarter|qq|q|month|mm|m|week|wk|ww|dayofyear|dy|y|weekday|dw|w|nanosecond|ns)$/i.test(d.unit);
      if (known) unsupported(d.pos, `${d.unit} as a window unit (ASA windows take day, hour, minute, second, millisecond, microsecond)`);
      fail(d.pos, `unknown time unit '${d.unit}' (use day/dd/d, hour/hh, minute/mi/n, second/ss/s, millisecond/ms, microsecond/mcs)`);
    }
    const abs = windowMillis(unit!, Math.abs(d.size));
    const v = abs === undefined ? undefined : d.size < 0 ? -abs : abs;
    if (v === undefined) unsupported(d.sizePos, `a ${what} that is not a whole number of milliseconds`);
    if (!allowZero && v! <= 0) fail(d.sizePos, `the ${what} must be greater than zero`);
    if (Math.abs(v!) > MAX_WINDOW_MS) fail(d.sizePos, `the ${what} may be at most 7 days`);
    return v!;
  };
  switch (w.kind) {
    case 'tumbling': {
      const size = ms(w.size, 'window size');
      const offset = w.offset ? ms(w.offset, 'offset', true) : 0;
      if (Math.abs(offset) >= size) fail(w.offset!.sizePos, 'the offset must be smaller than the window size');
      return { kind: 'tumbling', size, hop: size, offset: mod(offset, size) };
    }
    case 'hopping': {
      const size = ms(w.size, 'window size');
      const hop = ms(w.hop, 'hop size');
      const offset = w.offset ? ms(w.offset, 'offset', true) : 0;
      if (Math.abs(offset) >= hop) fail(w.offset!.sizePos, 'the offset must be smaller than the hop size');
      return { kind: 'hopping', size, hop, offset: mod(offset, hop) };
    }
    case 'sliding':
      return { kind: 'sliding', size: ms(w.size, 'window size') };
    case 'session': {
      const timeout = ms(w.timeout, 'timeout');
      const maxDuration = w.maxDuration ? ms(w.maxDuration, 'maximum duration') : null;
      if (maxDuration !== null && maxDuration < timeout) fail(w.maxDuration!.sizePos, 'the maximum duration cannot be shorter than the timeout');
      return { kind: 'session', timeout, maxDuration, partitionBy: w.partitionBy.map((e) => compileExpr(strip(e), scope)) };
    }
    case 'snapshot':
      return { kind: 'snapshot' };
  }
}

function aliasesOf(columns: OutputColumn[]): Map<string, Eval> {
  const m = new Map<string, Eval>();
  for (const c of columns) if (!c.star && !m.has(c.name.toLowerCase())) m.set(c.name.toLowerCase(), c.eval);
  return m;
}

function andEval(a: Eval | null, b: Eval): Eval {
  if (a === null) return b;
  return (env) => isTrue(a(env)) && isTrue(b(env));
}

/** Offsets are kept in [0, hop): window ends are offset + k·hop either way. */
function mod(x: number, m: number): number {
  return ((x % m) + m) % m;
}

function defaultName(e: Expr, i: number): string {
  if (e.kind === 'column') return e.path[e.path.length - 1]!;
  if (e.kind === 'call') return e.name.toLowerCase();
  if (e.kind === 'topOne') return 'topone';
  if (e.kind === 'analytic') return e.fn.toLowerCase();
  if (e.kind === 'timestamp') return 'timestamp';
  return `col${i + 1}`;
}

function containsAggregate(e: Expr): boolean {
  return findAggregate(e) !== null;
}

function findAggregate(e: Expr): Expr | null {
  let found: Expr | null = null;
  visit(e, (x) => {
    if (found === null && (x.kind === 'topOne' || (x.kind === 'call' && AGGREGATE_NAMES.has(x.name)))) found = x;
  });
  return found;
}

