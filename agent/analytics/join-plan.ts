import type { Expr, Position, SelectStatement } from './ast.js';
import { stripSource, visit } from './ast-walk.js';
import { QueryError } from './diagnostics.js';
import { compileExpr, type CompileScope, type Eval } from './expressions.js';
import { windowMillis, windowUnit } from './time-units.js';
import { isTrue } from './values.js';

/** One input of a JOIN: where its events come from and how their time is read. */
export interface JoinSide {
  from: string;
  fromStep: boolean;
  /** Reference data (a table, see AnalyticsEngine.setReferenceData), not a stream. */
  reference: boolean;
  /** The name its columns are qualified with (alias, else the input name). */
  alias: string;
  timestamp: Eval | null;
  over: Eval[];
}

/**
 * A stream–stream JOIN: a pair matches when `lo ≤ t(right) − t(left) ≤ hi` (the DATEDIFF bound
 * of its ON clause, in ms), the equality keys agree and the rest of ON holds.
 */
export interface JoinPlan {
  kind: 'inner' | 'left';
  left: JoinSide;
  right: JoinSide;
  lo: number;
  hi: number;
  /**
   * `l.k = r.k` conjuncts of ON, evaluated on one side's event each, as a string; the Eval gives
   * null when a key value is NULL (such an event matches nothing). Null when ON has no equality.
   */
  leftKey: Eval | null;
  rightKey: Eval | null;
  /** The rest of ON, on the joined row. */
  residual: Eval | null;
}

const MAX_BOUND_MS = 7 * 86_400_000;

/**
 * Plans the JOIN of a statement. Columns of a joined row are read qualified (`a.x`, the side's
 * alias) or, unqualified, from the left side first; DATEDIFF(unit, a, b) with the two aliases
 * reads the events' times. ASA requires a time bound, and so do we: without one, every event
 * would have to be kept forever.
 */
export function planJoin(s: SelectStatement, steps: Set<string>, scope: CompileScope, text: string, queryName: string, refs: Set<string>): JoinPlan {
  const j = s.join!;
  const fail = (pos: Position, reason: string): never => {
    throw new QueryError('EDGE_QUERY_SYNTAX', queryName, text, pos, reason);
  };
  const leftAlias = s.from.alias ?? s.from.name;
  const rightAlias = j.right.alias ?? j.right.name;
  if (leftAlias.toLowerCase() === rightAlias.toLowerCase()) fail(j.right.pos, `both sides of the JOIN are called '${leftAlias}'; give each an alias (FROM input a JOIN input b)`);
  const side = (name: string, alias: string | null, ts: SelectStatement['timestampBy']): JoinSide => {
    const fromStep = steps.has(name.toLowerCase());
    const reference = !fromStep && refs.has(name.toLowerCase());
    if (ts && fromStep) fail(ts.pos, `TIMESTAMP BY applies to inputs only; '${name}' is a step`);
    if (ts && reference) fail(ts.pos, `'${name}' is reference data: it has no time, so no TIMESTAMP BY`);
    const names = [name, ...(alias ? [alias] : [])];
    const sideScope: CompileScope = { ...scope, sourceNames: names, analytics: undefined, joinSides: undefined };
    return {
      from: name,
      fromStep,
      reference,
      alias: alias ?? name,
      timestamp: ts ? compileExpr(stripSource(ts.expr, names), sideScope) : null,
      over: ts ? ts.over.map((e) => compileExpr(stripSource(e, names), sideScope)) : [],
    };
  };
  const left = side(s.from.name, s.from.alias, s.timestampBy);
  const right = side(j.right.name, j.right.alias, j.rightTimestampBy);
  if (left.reference) fail(s.from.pos, `'${s.from.name}' is reference data: put the stream on the left of JOIN and the reference data on the right`);

  let lo = -Infinity;
  let hi = Infinity;
  const leftKeys: Expr[] = [];
  const rightKeys: Expr[] = [];
  const rest: Expr[] = [];
  for (const c of conjuncts(j.on)) {
    const bound = timeBound(c, leftAlias, rightAlias, fail);
    if (bound) {
      lo = Math.max(lo, bound[0]);
      hi = Math.min(hi, bound[1]);
      continue;
    }
    if (c.kind === 'binary' && c.op === '=') {
      const l = sideOf(c.left, leftAlias, rightAlias);
      const r = sideOf(c.right, leftAlias, rightAlias);
      if (l === 'left' && r === 'right') {
        leftKeys.push(c.left);
        rightKeys.push(c.right);
        continue;
      }
      if (l === 'right' && r === 'left') {
        leftKeys.push(c.right);
        rightKeys.push(c.left);
        continue;
      }
    }
    rest.push(c);
  }
  if (right.reference) {
    if (Number.isFinite(lo) || Number.isFinite(hi)) fail(j.pos, `'${j.right.name}' is reference data: it has no time, so no DATEDIFF bound`);
    lo = -Infinity;
    hi = Infinity;
  } else if (!Number.isFinite(lo) || !Number.isFinite(hi)) {
    fail(j.pos, `a JOIN of two streams needs a time bound in ON, e.g. DATEDIFF(second, ${leftAlias}, ${rightAlias}) BETWEEN 0 AND 10`);
  }
  if (lo > hi) fail(j.pos, 'the JOIN time bound is empty (lower above upper)');
  if (!right.reference && hi - lo > MAX_BOUND_MS) fail(j.pos, 'the JOIN time bound may span at most 7 days');
  const keyOf = (keys: Expr[], alias: string): Eval | null => {
    if (keys.length === 0) return null;
    const sideScope: CompileScope = { ...scope, sourceNames: [alias], analytics: undefined, joinSides: undefined };
    const fs = keys.map((k) => compileExpr(stripSource(k, [alias]), sideScope));
    return (env) => {
      const vals = fs.map((f) => f(env));
      if (vals.some((v) => v == null)) return null;
      return JSON.stringify(vals.map((v) => (v instanceof Date ? v.getTime() : v)));
    };
  };
  const parts = rest.map((c) => compileExpr(c, scope));
  const residual: Eval | null = parts.length === 0 ? null : parts.length === 1 ? parts[0]! : (env) => parts.every((f) => isTrue(f(env)));
  return { kind: j.kind, left, right, lo, hi, leftKey: keyOf(leftKeys, leftAlias), rightKey: keyOf(rightKeys, rightAlias), residual };
}

function conjuncts(e: Expr): Expr[] {
  if (e.kind === 'binary' && e.op === 'AND') return [...conjuncts(e.left), ...conjuncts(e.right)];
  return [e];
}

/** 'left' or 'right' when every column of e is qualified with that side's alias. */
function sideOf(e: Expr, leftAlias: string, rightAlias: string): 'left' | 'right' | null {
  let found: 'left' | 'right' | null | undefined;
  visit(e, (x) => {
    if (x.kind !== 'column') return;
    const head = x.path.length > 1 ? x.path[0]!.toLowerCase() : '';
    const s = head === leftAlias.toLowerCase() ? 'left' : head === rightAlias.toLowerCase() ? 'right' : null;
    if (found === undefined) found = s;
    else if (found !== s) found = null;
  });
  return found ?? null;
}

/** `DATEDIFF(unit, a, b) BETWEEN x AND y` (or compared with a number) as [lo, hi] of t(right) − t(left) in ms. */
function timeBound(c: Expr, leftAlias: string, rightAlias: string, fail: (pos: Position, reason: string) => never): [number, number] | null {
  const diffOf = (e: Expr): { ms: number; sign: 1 | -1 } | null => {
    if (e.kind !== 'datepart' || e.fn !== 'DATEDIFF') return null;
    const [a, b] = e.args;
    const name = (x: Expr | undefined) => (x && x.kind === 'column' && x.path.length === 1 ? x.path[0]!.toLowerCase() : null);
    const an = name(a);
    const bn = name(b);
    const l = leftAlias.toLowerCase();
    const r = rightAlias.toLowerCase();
    let sign: 1 | -1;
    if (an === l && bn === r) sign = 1;
    else if (an === r && bn === l) sign = -1;
    else return null;
    const unit = windowUnit(e.part);
    const ms = unit ? windowMillis(unit, 1) : undefined;
    if (ms === undefined) fail(e.pos, `a JOIN bound takes day, hour, minute, second or millisecond, not '${e.part}'`);
    return { ms: ms!, sign };
  };
  const num = (e: Expr): number | null => (e.kind === 'literal' && typeof e.value === 'number' ? e.value : null);
  const oriented = (d: { ms: number; sign: 1 | -1 }, lo: number, hi: number): [number, number] =>
    d.sign === 1 ? [lo * d.ms, hi * d.ms] : [-hi * d.ms, -lo * d.ms];
  if (c.kind === 'between' && !c.negated) {
    const d = diffOf(c.operand);
    const lo = num(c.low);
    const hi = num(c.high);
    if (d && lo !== null && hi !== null) return oriented(d, lo, hi);
    return null;
  }
  if (c.kind === 'binary' && ['<', '<=', '>', '>=', '='].includes(c.op)) {
    let d = diffOf(c.left);
    let n = num(c.right);
    let op = c.op;
    if (!d) {
      d = diffOf(c.right);
      n = num(c.left);
      op = ({ '<': '>', '<=': '>=', '>': '<', '>=': '<=', '=': '=' } as Record<string, typeof op>)[op]!;
    }
    if (!d || n === null) return null;
    // Integer milliseconds: a strict bound is one millisecond inside.
    const step = 1 / d.ms;
    switch (op) {
      case '<':
        return oriented(d, -Infinity, n - step);
      case '<=':
        return oriented(d, -Infinity, n);
      case '>':
        return oriented(d, n + step, Infinity);
      case '>=':
        return oriented(d, n, Infinity);
      default:
        return oriented(d, n, n);
    }
  }
  return null;
}
