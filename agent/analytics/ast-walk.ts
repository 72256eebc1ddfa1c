import type { Expr } from './ast.js';

/** Walking and rewriting syntax trees: shared by the planner and the JOIN planner. */
export function visit(e: Expr, f: (e: Expr) => void): void {
  f(e);
  for (const c of children(e)) visit(c, f);
}

export function children(e: Expr): Expr[] {
  switch (e.kind) {
    case 'unary':
      return [e.operand];
    case 'binary':
      return [e.left, e.right];
    case 'isNull':
      return [e.operand];
    case 'between':
      return [e.operand, e.low, e.high];
    case 'in':
      return [e.operand, ...e.list];
    case 'case':
      return [...(e.operand ? [e.operand] : []), ...e.whens.flatMap((w) => [w.when, w.then]), ...(e.otherwise ? [e.otherwise] : [])];
    case 'cast':
      return [e.operand];
    case 'datepart':
    case 'call':
      return e.args;
    case 'topOne':
      return [...e.orderBy.map((o) => o.expr), ...(e.arg ? [e.arg] : [])];
    case 'analytic':
      return [...e.args, ...e.over.partitionBy, ...(e.over.when ? [e.over.when] : []), ...(e.over.orderBy ?? []).map((o) => o.expr)];
    default:
      return [];
  }
}

/** `FROM input i … i.temp` and `input.temp` both mean the field `temp`. */
export function stripSource(e: Expr, names: string[]): Expr {
  const lower = names.map((n) => n.toLowerCase());
  const rec = (x: Expr): Expr => {
    switch (x.kind) {
      case 'column':
        return x.path.length > 1 && lower.includes(x.path[0]!.toLowerCase()) ? { ...x, path: x.path.slice(1) } : x;
      case 'unary':
        return { ...x, operand: rec(x.operand) };
      case 'binary':
        return { ...x, left: rec(x.left), right: rec(x.right) };
      case 'isNull':
        return { ...x, operand: rec(x.operand) };
      case 'between':
        return { ...x, operand: rec(x.operand), low: rec(x.low), high: rec(x.high) };
      case 'in':
        return { ...x, operand: rec(x.operand), list: x.list.map(rec) };
      case 'case':
        return { ...x, operand: x.operand ? rec(x.operand) : null, whens: x.whens.map((w) => ({ when: rec(w.when), then: rec(w.then) })), otherwise: x.otherwise ? rec(x.otherwise) : null };
      case 'cast':
        return { ...x, operand: rec(x.operand) };
      case 'datepart':
      case 'call':
        return { ...x, args: x.args.map(rec) };
      case 'topOne':
        return { ...x, orderBy: x.orderBy.map((o) => ({ ...o, expr: rec(o.expr) })), arg: x.arg ? rec(x.arg) : null };
      case 'analytic':
        return {
          ...x,
          args: x.args.map(rec),
          over: { ...x.over, partitionBy: x.over.partitionBy.map(rec), when: x.over.when ? rec(x.over.when) : null, orderBy: x.over.orderBy?.map((o) => ({ ...o, expr: rec(o.expr) })) },
        };
      default:
        return x;
    }
  };
  return rec(e);
}
