import type { Expr, Position } from './ast.js';
import { QueryError } from './diagnostics.js';
import { ANALYTIC_VALUES, type AnalyticCall, type CompileScope, type Eval } from './compile-scope.js';
import { windowMillis, windowUnit } from './time-units.js';

/**
 * Compiling ASA's analytic functions (LAG, LAST, ISFIRST, TopOne's analytic form, SUM/AVG/MIN/MAX
 * OVER, AnomalyDetection_*) into call sites the AnalyticOperator evaluates. `compileExpr` is
 * passed in: the expression compiler calls this module for an analytic node and this module
 * calls it back for the arguments.
 */



export function compileAnalytic(e: Extract<Expr, { kind: 'analytic' }>, scope: CompileScope, compileExpr: (e: Expr, scope: CompileScope) => Eval): Eval {
  const list = scope.analytics;
  if (list === undefined || (scope.group !== null && scope.where === 'output')) {
    fail(scope, e.pos, `${e.fn} is evaluated on each input event: use it in SELECT or WHERE of a statement without GROUP BY, in WHERE, or inside an aggregate`);
  }
  const inner: CompileScope = { ...scope, analytics: undefined, aliases: undefined, group: null, where: 'row' };
  const sub = (x: Expr): Eval => {
    if (x.kind === 'star') fail(scope, x.pos, `'*' is only allowed as the value of LAG or LAST`);
    return compileExpr(x, inner);
  };
  const ms = (unit: string, size: number, pos: Position): number => {
    const u = windowUnit(unit);
    if (!u) fail(scope, pos, `unknown time unit '${unit}' (use day, hour, minute, second, millisecond, microsecond)`);
    const v = windowMillis(u!, size);
    if (v === undefined || v <= 0) fail(scope, pos, `the duration must be a positive whole number of milliseconds`);
    return v!;
  };
  const over = e.over;
  const call: AnalyticCall = {
    fn: e.fn,
    value: null,
    offset: 0,
    fallback: null,
    partitionBy: over.partitionBy.map(sub),
    durationMs: over.limit ? ms(over.limit.unit, over.limit.size, over.limit.pos) : 0,
    when: over.when ? sub(over.when) : null,
    anomaly: null,
    order: [],
  };
  if (e.fn === 'ANOMALYDETECTION_SPIKEANDDIP' || e.fn === 'ANOMALYDETECTION_CHANGEPOINT') {
    const spike = e.fn === 'ANOMALYDETECTION_SPIKEANDDIP';
    const name = spike ? 'AnomalyDetection_SpikeAndDip' : 'AnomalyDetection_ChangePoint';
    const want = spike ? 4 : 3;
    if (e.args.length !== want) fail(scope, e.pos, `${name} takes a value, a confidence (1–100), a history size${spike ? " and a mode ('spikes', 'dips' or 'spikesanddips')" : ''}`);
    const [value, conf, hist, mode] = e.args;
    const numArg = (x: Expr, what: string, ok: (n: number) => boolean): number => {
      if (x.kind !== 'literal' || typeof x.value !== 'number' || !ok(x.value)) fail(scope, x.pos, `${name}: ${what}`);
      return (x as { value: number }).value;
    };
    const confidence = numArg(conf!, 'the confidence must be a number above 0 and below 100', (n) => n > 0 && n < 100) / 100;
    const history = numArg(hist!, 'the history size must be a whole number from 2 to 10000', (n) => Number.isInteger(n) && n >= 2 && n <= 10_000);
    let m: 'spikes' | 'dips' | 'both' = 'both';
    if (spike) {
      const text = mode!.kind === 'literal' && typeof mode!.value === 'string' ? mode!.value.toLowerCase() : '';
      if (text !== 'spikes' && text !== 'dips' && text !== 'spikesanddips') fail(scope, mode!.pos, `${name}: the mode must be 'spikes', 'dips' or 'spikesanddips'`);
      m = text === 'spikes' ? 'spikes' : text === 'dips' ? 'dips' : 'both';
    }
    if (value!.kind === 'star') fail(scope, value!.pos, `${name} needs a numeric value, not '*'`);
    call.value = sub(value!);
    call.anomaly = { confidence, history, mode: m };
  } else if (e.fn === 'SUM' || e.fn === 'AVG' || e.fn === 'MIN' || e.fn === 'MAX') {
    if (e.args.length !== 1 || e.args[0]!.kind === 'star') fail(scope, e.pos, `${e.fn}() OVER takes one value`);
    call.value = sub(e.args[0]!);
  } else if (e.fn === 'TOPONE') {
    call.value = e.args[0] ? sub(e.args[0]) : null;
    call.order = (over.orderBy ?? []).map((o) => ({ key: sub(o.expr), desc: o.desc }));
  } else if (e.fn === 'ISFIRST') {
    const [unit, size] = e.args;
    if (e.args.length !== 2 || unit?.kind !== 'column' || unit.path.length !== 1 || size?.kind !== 'literal' || typeof size.value !== 'number' || !Number.isInteger(size.value)) {
      fail(scope, e.pos, 'ISFIRST takes a time unit and a whole number: ISFIRST(minute, 10)');
    }
    call.durationMs = ms((unit as { path: string[] }).path[0]!, (size as { value: number }).value, e.pos);
  } else {
    const max = e.fn === 'LAG' ? 3 : 2;
    if (e.args.length < 1 || e.args.length > max) fail(scope, e.pos, e.fn === 'LAG' ? 'LAG takes a value, an optional offset and an optional default' : 'LAST takes a value and an optional default');
    const [value, second, third] = e.args;
    call.value = value!.kind === 'star' ? null : sub(value!);
    if (e.fn === 'LAG') {
      call.offset = 1;
      if (second) {
        if (second.kind !== 'literal' || typeof second.value !== 'number' || !Number.isInteger(second.value) || second.value < 1) {
          fail(scope, second.pos, 'the LAG offset must be a whole number of 1 or more');
        }
        call.offset = (second as { value: number }).value;
      }
      if (third) call.fallback = sub(third);
    } else if (second) {
      call.fallback = sub(second);
    }
  }
  const k = list!.length;
  list!.push(call);
  return (env) => {
    const vals = env.row[ANALYTIC_VALUES] as unknown[] | undefined;
    return vals === undefined ? null : vals[k];
  };
}

function fail(scope: CompileScope, pos: Position, reason: string): never {
  throw new QueryError('EDGE_QUERY_SYNTAX', scope.queryName, scope.queryText, pos, reason);
}
