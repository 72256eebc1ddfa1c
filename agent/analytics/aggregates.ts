import { compare, toNumber } from './values.js';

/**
 * Mergeable accumulators: a window is the merge of its panes, so hopping windows cost one
 * update per event however many windows overlap, and no event is kept after it is counted.
 * `save()`/`load()` give a JSON-safe state for checkpoints (Dates are encoded by the caller).
 */
export interface Accumulator {
  add(value: unknown, row: Readonly<Record<string, unknown>>, t: number, seq: number): void;
  merge(other: Accumulator): void;
  result(): unknown;
  save(): unknown;
  load(state: unknown): void;
  /** Extra state entries this accumulator holds (distinct values), for the memory bound. */
  size(): number;
}

export type AggregateName = 'COUNT' | 'SUM' | 'AVG' | 'MIN' | 'MAX' | 'STDEV' | 'STDEVP' | 'VAR' | 'VARP' | 'TOPONE';

export const AGGREGATE_NAMES = new Set<string>(['COUNT', 'SUM', 'AVG', 'MIN', 'MAX', 'STDEV', 'STDEVP', 'VAR', 'VARP']);

export class CountStar implements Accumulator {
  n = 0;
  add(): void {
    this.n++;
  }
  merge(o: CountStar): void {
    this.n += o.n;
  }
  result(): number {
    return this.n;
  }
  save(): number {
    return this.n;
  }
  load(s: unknown): void {
    this.n = s as number;
  }
  size(): number {
    return 0;
  }
}

/** COUNT(x) counts non-NULL values; otherwise it is COUNT(*). */
export class Count extends CountStar {
  override add(v?: unknown): void {
    if (v != null) this.n++;
  }
}

export class CountDistinct implements Accumulator {
  // Keyed by a type-tagged string so 1 and '1' stay distinct, and Dates compare by instant.
  seen = new Set<string>();
  add(v: unknown): void {
    if (v == null) return;
    this.seen.add(distinctKey(v));
  }
  merge(o: CountDistinct): void {
    for (const k of o.seen) this.seen.add(k);
  }
  result(): number {
    return this.seen.size;
  }
  save(): string[] {
    return [...this.seen];
  }
  load(s: unknown): void {
    this.seen = new Set(s as string[]);
  }
  size(): number {
    return this.seen.size;
  }
}

function distinctKey(v: unknown): string {
  if (v instanceof Date) return 'd' + v.getTime();
  if (typeof v === 'object') return 'o' + JSON.stringify(v);
  return (typeof v)[0] + String(v);
}

export class Sum implements Accumulator {
  n = 0;
  sum = 0;
  add(v: unknown): void {
    const x = typeof v === 'number' ? v : toNumber(v);
    if (x === null) return;
    this.n++;
    this.sum += x;
  }
  merge(o: Sum): void {
    this.n += o.n;
    this.sum += o.sum;
  }
  result(): number | null {
    return this.n === 0 ? null : this.sum;
  }
  save(): [number, number] {
    return [this.n, this.sum];
  }
  load(s: unknown): void {
    [this.n, this.sum] = s as [number, number];
  }
  size(): number {
    return 0;
  }
}

export class Avg extends Sum {
  override result(): number | null {
    return this.n === 0 ? null : this.sum / this.n;
  }
}

/** MIN and MAX keep one value; numbers take a fast path, other types use SQL ordering. */
export class Extreme implements Accumulator {
  best: unknown = null;
  constructor(private readonly sign: 1 | -1) {}
  add(v: unknown): void {
    if (v == null) return;
    const b = this.best;
    if (b === null) {
      this.best = v;
    } else if (typeof v === 'number' && typeof b === 'number') {
      if (this.sign === 1 ? v < b : v > b) this.best = v;
    } else {
      const c = compare(v, b);
      if (c !== null && c * this.sign < 0) this.best = v;
    }
  }
  merge(o: Extreme): void {
    this.add(o.best);
  }
  result(): unknown {
    return this.best;
  }
  save(): unknown {
    return this.best;
  }
  load(s: unknown): void {
    this.best = s;
  }
  size(): number {
    return 0;
  }
}

/** Welford's running variance, merged with Chan et al.'s pairwise formula. */
export class Variance implements Accumulator {
  n = 0;
  mean = 0;
  m2 = 0;
  constructor(
    private readonly sample: boolean,
    private readonly root: boolean,
  ) {}
  add(v: unknown): void {
    const x = typeof v === 'number' ? v : toNumber(v);
    if (x === null) return;
    this.n++;
    const d = x - this.mean;
    this.mean += d / this.n;
    this.m2 += d * (x - this.mean);
  }
  merge(o: Variance): void {
    if (o.n === 0) return;
    if (this.n === 0) {
      this.n = o.n;
      this.mean = o.mean;
      this.m2 = o.m2;
      return;
    }
    const n = this.n + o.n;
    const d = o.mean - this.mean;
    this.mean += (d * o.n) / n;
    this.m2 += o.m2 + (d * d * this.n * o.n) / n;
    this.n = n;
  }
  result(): number | null {
    const denom = this.sample ? this.n - 1 : this.n;
    if (denom <= 0) return null;
    const v = Math.max(0, this.m2 / denom);
    return this.root ? Math.sqrt(v) : v;
  }
  save(): [number, number, number] {
    return [this.n, this.mean, this.m2];
  }
  load(s: unknown): void {
    [this.n, this.mean, this.m2] = s as [number, number, number];
  }
  size(): number {
    return 0;
  }
}

/** expressions.ts's ANALYTIC_VALUES (not imported: expressions.ts imports this module). */
const HIDDEN = '\u0000analytic';

export interface TopOneOrder {
  key: (row: Readonly<Record<string, unknown>>, t: number) => unknown;
  desc: boolean;
}

/**
 * TopOne() OVER (ORDER BY …): the whole event that sorts first. Ties go to the earlier event
 * (time, then arrival sequence) so the answer does not depend on how partitions interleave.
 */
export class TopOne implements Accumulator {
  row: Record<string, unknown> | null = null;
  keys: unknown[] = [];
  t = 0;
  seq = 0;
  constructor(
    private readonly order: TopOneOrder[],
    /** TopOne(expr): what to return of the top event; the event itself (a record) without it. */
    private readonly project?: (row: Readonly<Record<string, unknown>>, t: number) => unknown,
  ) {}
  add(_v: unknown, row: Readonly<Record<string, unknown>>, t: number, seq: number): void {
    // Keys are evaluated lazily, so an event that loses on the first key allocates nothing.
    if (this.row === null || this.better(row, null, t, seq)) {
      this.row = row as Record<string, unknown>;
      this.keys = this.order.map((o) => o.key(row, t));
      this.t = t;
      this.seq = seq;
    }
  }
  /** Whether a candidate (given by its row, or by its already computed keys) sorts before the current best. */
  private better(row: Readonly<Record<string, unknown>> | null, keys: unknown[] | null, t: number, seq: number): boolean {
    for (let i = 0; i < this.order.length; i++) {
      const a = keys !== null ? keys[i] : this.order[i]!.key(row!, t);
      const b = this.keys[i];
      // NULLs sort last whatever the direction, so a real value always wins over a missing one.
      if (a == null && b == null) continue;
      if (a == null) return false;
      if (b == null) return true;
      const c = compare(a, b);
      if (c === null || c === 0) continue;
      return this.order[i]!.desc ? c > 0 : c < 0;
    }
    return t < this.t || (t === this.t && seq < this.seq);
  }
  merge(o: TopOne): void {
    if (o.row !== null && (this.row === null || this.better(null, o.keys, o.t, o.seq))) {
      this.row = o.row;
      this.keys = o.keys;
      this.t = o.t;
      this.seq = o.seq;
    }
  }
  /** The event as a record; `arrivalTime` is the engine's input rather than a field, as in SELECT *. */
  result(): unknown {
    if (this.row !== null && this.project !== undefined) return this.project(this.row, this.t);
    if (this.row === null || !('arrivalTime' in this.row || HIDDEN in this.row)) return this.row;
    const out: Record<string, unknown> = {};
    for (const k in this.row) if (k !== 'arrivalTime' && k !== HIDDEN) out[k] = this.row[k];
    return out;
  }
  save(): unknown {
    return this.row === null ? null : [this.row, this.keys, this.t, this.seq];
  }
  load(s: unknown): void {
    if (s === null) return;
    [this.row, this.keys, this.t, this.seq] = s as [Record<string, unknown>, unknown[], number, number];
  }
  size(): number {
    return this.row === null ? 0 : 1;
  }
}

export function createAccumulatorFactory(
  name: AggregateName,
  opts: { star: boolean; distinct: boolean; order?: TopOneOrder[]; project?: (row: Readonly<Record<string, unknown>>, t: number) => unknown },
): () => Accumulator {
  switch (name) {
    case 'COUNT':
      if (opts.star) return () => new CountStar();
      return opts.distinct ? () => new CountDistinct() : () => new Count();
    case 'SUM':
      return () => new Sum();
    case 'AVG':
      return () => new Avg();
    case 'MIN':
      return () => new Extreme(1);
    case 'MAX':
      return () => new Extreme(-1);
    case 'STDEV':
      return () => new Variance(true, true);
    case 'STDEVP':
      return () => new Variance(false, true);
    case 'VAR':
      return () => new Variance(true, false);
    case 'VARP':
      return () => new Variance(false, false);
    case 'TOPONE': {
      const order = opts.order ?? [];
      const project = opts.project;
      return () => new TopOne(order, project);
    }
  }
}
