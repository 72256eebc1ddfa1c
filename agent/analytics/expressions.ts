import type { Expr, Position } from './ast.js';
import { AGGREGATE_NAMES, createAccumulatorFactory, type Accumulator, type AggregateName } from './aggregates.js';
import { QueryError } from './diagnostics.js';
import { compileAnalytic } from './analytic-compile.js';
import type { CompileScope, Env, Eval } from './compile-scope.js';
import { parseIsoTime } from './iso-time.js';
import { likeRegExp } from './like.js';
import { datePart } from './time-units.js';
import { castTo, CAST_TYPES, compare, dateAdd, dateDiff, datePartOf, isTrue, toBoolean, toDate, toMillis, toNumber } from './values.js';



/**
 * Thrown by a CAST that cannot convert its value. ASA drops the event and counts a data
 * conversion error (TRY_CAST gives NULL instead); whoever evaluates expressions over an event
 * catches it with `isConversionFailure` and drops that event (or window row) whole.
 */
const CONVERSION_FAILED = new Error('CAST could not convert the value');

export function isConversionFailure(err: unknown): boolean {
  return err === CONVERSION_FAILED;
}

export function newEnv(): Env {
  return { row: {}, ts: 0, aggs: [], keys: [], windowId: null };
}


/** Where a joined row keeps each side's event time (epoch ms), by lower-cased alias. */
export const JOIN_TIME = '\u0000time:';

export { ANALYTIC_VALUES, type AggregateCall, type AnalyticCall, type CompileScope, type Env, type Eval } from './compile-scope.js';


export function compileExpr(e: Expr, scope: CompileScope): Eval {
  if (scope.group && scope.where === 'output') {
    const text = exprText(e);
    const k = scope.group.keyTexts.indexOf(text);
    if (k >= 0) return (env) => env.keys[k];
  }
  switch (e.kind) {
    case 'literal': {
      const v = e.value;
      return () => v;
    }
    case 'star':
      return (env) => env.row;
    case 'timestamp':
      return (env) => new Date(env.ts);
    case 'column':
      return compileColumn(e, scope);
    case 'unary':
      return compileUnary(e.op, compileExpr(e.operand, scope));
    case 'binary':
      return compileBinary(e.op, compileExpr(e.left, scope), compileExpr(e.right, scope));
    case 'isNull': {
      const f = compileExpr(e.operand, scope);
      return e.negated ? (env) => f(env) != null : (env) => f(env) == null;
    }
    case 'between': {
      const f = compileExpr(e.operand, scope);
      const lo = compileExpr(e.low, scope);
      const hi = compileExpr(e.high, scope);
      const neg = e.negated;
      return (env) => {
        const v = f(env);
        const a = compare(v, lo(env));
        const b = compare(v, hi(env));
        if (a === null || b === null) return null;
        return (a >= 0 && b <= 0) !== neg;
      };
    }
    case 'in': {
      const f = compileExpr(e.operand, scope);
      const list = e.list.map((x) => compileExpr(x, scope));
      const neg = e.negated;
      return (env) => {
        const v = f(env);
        if (v == null) return null;
        for (const g of list) if (compare(v, g(env)) === 0) return !neg;
        return neg;
      };
    }
    case 'case':
      return compileCase(e, scope);
    case 'cast': {
      if (!CAST_TYPES.has(e.type)) unsupported(scope, e.pos, `CAST to ${e.type}`);
      const f = compileExpr(e.operand, scope);
      const type = e.type;
      if (e.orNull) return (env) => castTo(f(env), type) ?? null;
      return (env) => {
        const v = castTo(f(env), type);
        if (v === undefined) throw CONVERSION_FAILED;
        return v;
      };
    }
    case 'datepart':
      return compileDatePart(e, scope);
    case 'topOne':
    case 'call':
      return compileCall(e, scope);
    case 'analytic':
      return compileAnalytic(e, scope, compileExpr);
  }
}

function compileColumn(e: Extract<Expr, { kind: 'column' }>, scope: CompileScope): Eval {
  let path = e.path;
  if (path.length > 1 && scope.sourceNames.some((n) => n.toLowerCase() === path[0]!.toLowerCase())) path = path.slice(1);
  const alias = path.length === 1 && scope.aliases ? scope.aliases.get(path[0]!.toLowerCase()) : undefined;
  if (scope.group && scope.where === 'output') {
    const k = scope.group.keyTexts.indexOf(exprText({ ...e, path }));
    if (k >= 0) return (env) => env.keys[k];
    if (alias) return alias;
    fail(scope, e.pos, `column '${e.path.join('.')}' must appear in GROUP BY or inside an aggregate`);
  }
  if (alias) return alias;
  if (path.length === 1) {
    const a = path[0]!;
    return (env) => {
      const v = env.row[a];
      return v !== undefined ? v : field(env.row, a);
    };
  }
  if (path.length === 2) {
    const [a, b] = path as [string, string];
    return (env) => {
      const o = env.row[a] ?? field(env.row, a);
      return o !== null && typeof o === 'object' ? field(o as Record<string, unknown>, b) : undefined;
    };
  }
  return (env) => {
    let o: unknown = env.row;
    for (const p of path) {
      if (o === null || typeof o !== 'object') return undefined;
      o = field(o as Record<string, unknown>, p);
    }
    return o;
  };
}

/**
 * ASA matches field names case-insensitively. The exact spelling is tried first (one property
 * read on the hot path); only a miss pays for the scan.
 */
function field(o: Record<string, unknown>, name: string): unknown {
  const v = o[name];
  if (v !== undefined) return v;
  const lower = name.toLowerCase();
  for (const k in o) if (k.toLowerCase() === lower) return o[k];
  return undefined;
}

function compileUnary(op: '-' | '+' | 'NOT', f: Eval): Eval {
  if (op === 'NOT') {
    return (env) => {
      const b = toBoolean(f(env));
      return b === null ? null : !b;
    };
  }
  if (op === '+') return f;
  return (env) => {
    const n = toNumber(f(env));
    return n === null ? null : -n;
  };
}

function compileBinary(op: string, l: Eval, r: Eval): Eval {
  switch (op) {
    case 'AND':
      return (env) => {
        const a = toBoolean(l(env));
        if (a === false) return false;
        const b = toBoolean(r(env));
        if (b === false) return false;
        return a === null || b === null ? null : true;
      };
    case 'OR':
      return (env) => {
        const a = toBoolean(l(env));
        if (a === true) return true;
        const b = toBoolean(r(env));
        if (b === true) return true;
        return a === null || b === null ? null : false;
      };
    case '=':
      return (env) => nullable(compare(l(env), r(env)), (c) => c === 0);
    case '<>':
      return (env) => nullable(compare(l(env), r(env)), (c) => c !== 0);
    case '<':
      return (env) => nullable(compare(l(env), r(env)), (c) => c < 0);
    case '<=':
      return (env) => nullable(compare(l(env), r(env)), (c) => c <= 0);
    case '>':
      return (env) => nullable(compare(l(env), r(env)), (c) => c > 0);
    case '>=':
      return (env) => nullable(compare(l(env), r(env)), (c) => c >= 0);
    case '+':
      return (env) => {
        const a = l(env);
        const b = r(env);
        if (a == null || b == null) return null;
        if (typeof a === 'number' && typeof b === 'number') return a + b;
        if (typeof a === 'string' || typeof b === 'string') return textOf(a) + textOf(b);
        return arith(a, b, (x, y) => x + y);
      };
    case '-':
      return (env) => arith(l(env), r(env), (x, y) => x - y);
    case '*':
      return (env) => arith(l(env), r(env), (x, y) => x * y);
    case '/':
      return (env) => arith(l(env), r(env), (x, y) => (y === 0 ? null : x / y));
    case '%':
      return (env) => arith(l(env), r(env), (x, y) => (y === 0 ? null : x % y));
  }
  throw new TypeError(`unknown operator ${op}`);
}

function nullable(c: number | null, test: (c: number) => boolean): boolean | null {
  return c === null ? null : test(c);
}

function arith(a: unknown, b: unknown, f: (x: number, y: number) => number | null): number | null {
  if (a instanceof Date || b instanceof Date) return null;
  const x = toNumber(a);
  const y = toNumber(b);
  return x === null || y === null ? null : f(x, y);
}

function textOf(v: unknown): string {
  if (v instanceof Date) return v.toISOString();
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

function compileCase(e: Extract<Expr, { kind: 'case' }>, scope: CompileScope): Eval {
  const operand = e.operand ? compileExpr(e.operand, scope) : null;
  const whens = e.whens.map((w) => ({ when: compileExpr(w.when, scope), then: compileExpr(w.then, scope) }));
  const otherwise = e.otherwise ? compileExpr(e.otherwise, scope) : () => null;
  return (env) => {
    const v = operand ? operand(env) : undefined;
    for (const w of whens) {
      const hit = operand ? compare(v, w.when(env)) === 0 : isTrue(w.when(env));
      if (hit) return w.then(env);
    }
    return otherwise(env);
  };
}

function compileDatePart(e: Extract<Expr, { kind: 'datepart' }>, scope: CompileScope): Eval {
  const part = datePart(e.part);
  if (!part) fail(scope, e.pos, `unknown date part '${e.part}'`);
  const args = e.args.map((a) => joinSideTime(a, scope) ?? compileExpr(a, scope));
  switch (e.fn) {
    case 'DATEADD': {
      const [n, d] = args as [Eval, Eval];
      return (env) => {
        const k = toNumber(n(env));
        const ms = toMillis(d(env));
        return k === null || !Number.isFinite(ms) ? null : new Date(dateAdd(part, k, ms));
      };
    }
    case 'DATEDIFF': {
      const [a, b] = args as [Eval, Eval];
      return (env) => {
        const x = toMillis(a(env));
        const y = toMillis(b(env));
        return Number.isFinite(x) && Number.isFinite(y) ? dateDiff(part, x, y) : null;
      };
    }
    case 'DATEPART': {
      const [d] = args as [Eval];
      return (env) => {
        const ms = toMillis(d(env));
        return Number.isFinite(ms) ? datePartOf(part, ms) : null;
      };
    }
  }
}

/** A bare JOIN side alias as a DATEDIFF/DATEADD/DATEPART argument means that side's event time. */
function joinSideTime(a: Expr, scope: CompileScope): Eval | null {
  if (!scope.joinSides || a.kind !== 'column' || a.path.length !== 1) return null;
  const name = a.path[0]!.toLowerCase();
  if (!scope.joinSides.includes(name)) return null;
  const key = JOIN_TIME + name;
  return (env) => env.row[key] ?? null;
}

type NumFn = (x: number, y?: number) => number;
const MATH: Record<string, [number, NumFn]> = {
  ABS: [1, Math.abs],
  FLOOR: [1, Math.floor],
  CEILING: [1, Math.ceil],
  SQRT: [1, Math.sqrt],
  EXP: [1, Math.exp],
  SIGN: [1, Math.sign],
  POWER: [2, (x, y) => Math.pow(x, y!)],
};

function compileCall(e: Extract<Expr, { kind: 'call' | 'topOne' }>, scope: CompileScope): Eval {
  const name = e.kind === 'topOne' ? 'TOPONE' : e.name;
  if (e.kind === 'topOne' || AGGREGATE_NAMES.has(name)) return compileAggregate(e, name as AggregateName, scope);
  const args = e.args.map((a) => {
    if (a.kind === 'star') fail(scope, a.pos, `'*' is only allowed in COUNT(*)`);
    return compileExpr(a, scope);
  });
  if (e.distinct) fail(scope, e.pos, `DISTINCT is only allowed in COUNT(DISTINCT …)`);
  const arity = (n: number) => {
    if (args.length !== n) fail(scope, e.pos, `${name} takes ${n} argument${n === 1 ? '' : 's'}`);
  };
  const math = MATH[name];
  if (math) {
    arity(math[0]);
    const [f, g] = args as [Eval, Eval | undefined];
    const fn = math[1];
    return (env) => {
      const x = toNumber(f(env));
      const y = g ? toNumber(g(env)) : 0;
      return x === null || y === null ? null : fn(x, y);
    };
  }
  switch (name) {
    case '.FIELD': {
      const [rec] = args as [Eval];
      const field = (e.args[1] as { value: string }).value;
      return (env) => {
        const o = rec(env);
        return o !== null && typeof o === 'object' ? (o as Record<string, unknown>)[field] : undefined;
      };
    }
    case '.WINDOWID':
      if (!scope.group || scope.where !== 'output') fail(scope, e.pos, 'System.Window().Id names the window of a GROUP BY: use it in SELECT or HAVING of a grouped statement');
      return (env) => env.windowId;
    case '.LIKE': {
      const [v, pat] = args as [Eval, Eval];
      const fixed = e.args[1]!.kind === 'literal' && typeof (e.args[1] as { value: unknown }).value === 'string' ? likeRegExp((e.args[1] as { value: string }).value) : null;
      let lastPattern: string | null = null;
      let lastRe: RegExp | null = null;
      return (env) => {
        const x = v(env);
        if (x == null) return null;
        let re = fixed;
        if (re === null) {
          const p = pat(env);
          if (p == null) return null;
          const ps = textOf(p);
          if (ps !== lastPattern) {
            lastPattern = ps;
            lastRe = likeRegExp(ps);
          }
          re = lastRe!;
        }
        return re.test(textOf(x));
      };
    }
    case 'ROUND': {
      if (args.length < 1 || args.length > 2) arity(2);
      const [f, g] = args as [Eval, Eval | undefined];
      return (env) => {
        const x = toNumber(f(env));
        const d = g ? toNumber(g(env)) : 0;
        if (x === null || d === null) return null;
        const p = Math.pow(10, d);
        return Math.sign(x) * Math.round(Math.abs(x) * p) / p;
      };
    }
    case 'LOWER':
    case 'UPPER': {
      arity(1);
      const [f] = args as [Eval];
      const upper = name === 'UPPER';
      return (env) => {
        const v = f(env);
        return v == null ? null : upper ? textOf(v).toUpperCase() : textOf(v).toLowerCase();
      };
    }
    case 'LEN': {
      arity(1);
      const [f] = args as [Eval];
      return (env) => {
        const v = f(env);
        return v == null ? null : textOf(v).length;
      };
    }
    case 'CONCAT':
      return (env) => args.map((f) => f(env)).map((v) => (v == null ? '' : textOf(v))).join('');
    case 'SUBSTRING': {
      arity(3);
      const [s, start, len] = args as [Eval, Eval, Eval];
      return (env) => {
        const v = s(env);
        const a = toNumber(start(env));
        const n = toNumber(len(env));
        if (v == null || a === null || n === null) return null;
        const from = Math.max(1, a);
        return textOf(v).substring(from - 1, Math.max(from - 1, a - 1 + n));
      };
    }
    case 'COALESCE':
      return (env) => {
        for (const f of args) {
          const v = f(env);
          if (v != null) return v;
        }
        return null;
      };
    case 'GETRECORDPROPERTYVALUE': {
      arity(2);
      const [rec, path] = args as [Eval, Eval];
      return (env) => {
        let o = rec(env);
        const p = path(env);
        if (typeof p !== 'string') return null;
        for (const part of p.split('.')) {
          if (o === null || typeof o !== 'object') return null;
          o = (o as Record<string, unknown>)[part];
        }
        return o ?? null;
      };
    }
    case 'DATETIMEFROMPARTS': {
      arity(7);
      return (env) => {
        const p = args.map((f) => toNumber(f(env)));
        if (p.some((x) => x === null)) return null;
        const [y, mo, d, h, mi, s, ms] = p as number[];
        return new Date(Date.UTC(y!, mo! - 1, d!, h!, mi!, s!, ms!));
      };
    }
  }
  unsupported(scope, e.pos, `function ${e.kind === 'call' ? e.name : name}()`);
}

function compileAggregate(e: Extract<Expr, { kind: 'call' | 'topOne' }>, name: AggregateName, scope: CompileScope): Eval {
  if (!scope.group || scope.where !== 'output') {
    const why = scope.where === 'aggregate-arg' ? 'an aggregate cannot contain another aggregate' : `aggregate ${name === 'TOPONE' ? 'TopOne' : name}() needs GROUP BY with a window`;
    fail(scope, e.pos, why);
  }
  const argScope: CompileScope = { ...scope, where: 'aggregate-arg', group: null };
  let arg: Eval | null = null;
  let star = false;
  let distinct = false;
  let factory: () => Accumulator;
  let text: string;
  if (e.kind === 'topOne') {
    const order = e.orderBy.map((o) => {
      const f = compileExpr(o.expr, argScope);
      const env: Env = newEnv();
      return {
        key: (row: Readonly<Record<string, unknown>>, t: number) => {
          env.row = row as Record<string, unknown>;
          env.ts = t;
          try {
            return f(env);
          } catch (err) {
            // The event is already in the window; a key that cannot be converted sorts last, like NULL.
            if (isConversionFailure(err)) return null;
            throw err;
          }
        },
        desc: o.desc,
      };
    });
    let project: ((row: Readonly<Record<string, unknown>>, t: number) => unknown) | undefined;
    if (e.arg) {
      // TopOne(x * y): the projection is evaluated on the top event when the window is output.
      const f = compileExpr(e.arg, argScope);
      const env: Env = newEnv();
      project = (row, t) => {
        env.row = row as Record<string, unknown>;
        env.ts = t;
        return f(env) ?? null;
      };
    }
    factory = createAccumulatorFactory('TOPONE', { star: false, distinct: false, order, project });
    text = exprText(e);
  } else {
    if (e.args.length !== 1) fail(scope, e.pos, `${name} takes one argument`);
    const a = e.args[0]!;
    distinct = e.distinct;
    if (distinct && name !== 'COUNT') unsupported(scope, e.pos, `${name}(DISTINCT …)`);
    if (a.kind === 'star') {
      if (name !== 'COUNT' || distinct) fail(scope, a.pos, `'*' is only allowed in COUNT(*)`);
      star = true;
    } else {
      arg = compileExpr(a, argScope);
    }
    factory = createAccumulatorFactory(name, { star, distinct });
    text = exprText(e);
  }
  const aggs = scope.group.aggregates;
  let index = aggs.findIndex((x) => x.text === text);
  if (index < 0) {
    index = aggs.length;
    aggs.push({ name, arg, create: factory, text });
  }
  const k = index;
  return (env) => env.aggs[k];
}

/** Canonical text of an expression, used to match SELECT items against GROUP BY keys. */
export function exprText(e: Expr): string {
  switch (e.kind) {
    case 'literal':
      return JSON.stringify(e.value);
    case 'column':
      return e.path.map((p) => p.toLowerCase()).join('.');
    case 'star':
      return '*';
    case 'timestamp':
      return 'system.timestamp()';
    case 'unary':
      return `(${e.op} ${exprText(e.operand)})`;
    case 'binary':
      return `(${exprText(e.left)} ${e.op} ${exprText(e.right)})`;
    case 'isNull':
      return `(${exprText(e.operand)} is ${e.negated ? 'not ' : ''}null)`;
    case 'between':
      return `(${exprText(e.operand)} ${e.negated ? 'not ' : ''}between ${exprText(e.low)} and ${exprText(e.high)})`;
    case 'in':
      return `(${exprText(e.operand)} ${e.negated ? 'not ' : ''}in (${e.list.map(exprText).join(', ')}))`;
    case 'case':
      return `case ${e.operand ? exprText(e.operand) : ''} ${e.whens.map((w) => `when ${exprText(w.when)} then ${exprText(w.then)}`).join(' ')} else ${e.otherwise ? exprText(e.otherwise) : 'null'} end`;
    case 'cast':
      return `cast(${exprText(e.operand)} as ${e.type})`;
    case 'datepart':
      return `${e.fn.toLowerCase()}(${e.part.toLowerCase()}, ${e.args.map(exprText).join(', ')})`;
    case 'call':
      return `${e.name.toLowerCase()}(${e.distinct ? 'distinct ' : ''}${e.args.map(exprText).join(', ')})`;
    case 'topOne':
      return `topone(${e.arg ? exprText(e.arg) : ''}) over (order by ${e.orderBy.map((o) => exprText(o.expr) + (o.desc ? ' desc' : '')).join(', ')})`;
    case 'analytic': {
      const o = e.over;
      const parts = [
        o.partitionBy.length ? `partition by ${o.partitionBy.map(exprText).join(', ')}` : '',
        o.limit ? `limit duration(${o.limit.unit.toLowerCase()}, ${o.limit.size})` : '',
        o.when ? `when ${exprText(o.when)}` : '',
        o.orderBy ? `order by ${o.orderBy.map((x) => exprText(x.expr) + (x.desc ? ' desc' : '')).join(', ')}` : '',
      ].filter((x) => x !== '');
      return `${e.fn.toLowerCase()}(${e.args.map(exprText).join(', ')}) over (${parts.join(' ')})`;
    }
  }
}

let lastText: string | null = null;
let lastTextMs = NaN;

/** A time from a TIMESTAMP BY value, as integer epoch ms; NaN when it is not a time. */
export function timeOf(v: unknown): number {
  if (typeof v === 'string') {
    // Polled readings share a timestamp per poll, and replay parses each one twice (arrival
    // and application time): one remembered string saves most parses.
    if (v === lastText) return lastTextMs;
    const ms = parseIsoTime(v);
    lastText = v;
    lastTextMs = Number.isFinite(ms) ? Math.floor(ms) : NaN;
    return lastTextMs;
  }
  const ms = toMillis(v);
  return Number.isFinite(ms) ? Math.floor(ms) : NaN;
}

export { toDate };

function fail(scope: CompileScope, pos: Position, reason: string): never {
  throw new QueryError('EDGE_QUERY_SYNTAX', scope.queryName, scope.queryText, pos, reason);
}

function unsupported(scope: CompileScope, pos: Position, what: string): never {
  throw new QueryError('EDGE_QUERY_UNSUPPORTED', scope.queryName, scope.queryText, pos, `unsupported: ${what} is not supported`);
}
