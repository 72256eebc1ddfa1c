import type { Accumulator } from '../aggregates.js';
import type { AggregateCall, Env, Eval } from '../expressions.js';
import { isConversionFailure, newEnv } from '../expressions.js';
import type { Emit, Row } from '../operator.js';
import type { GroupedPlan, OutputColumn } from '../plan.js';
import type { Counters } from '../tolerances.js';
import { isTrue } from '../values.js';

/** One GROUP BY group inside one pane or window: its key and its accumulators. */
export interface GroupState {
  keyValues: unknown[];
  /** Canonical JSON of the key values: the ResultRecord `key` and the output order. */
  keyJson: string;
  accs: Accumulator[];
}

/**
 * The grouped half of a statement that every window kind shares: computing the group key,
 * feeding accumulators, and rendering a window's group into an output row (HAVING, SELECT).
 */
export class Grouping {
  readonly env: Env = newEnv();
  private readonly outEnv: Env = newEnv();
  private readonly keys: Eval[];
  private readonly aggs: AggregateCall[];
  private readonly args: Array<Eval | null>;
  private readonly single: Eval | null;
  /** The accepted event's key values and aggregate arguments, computed once in accept(). */
  private key0: unknown = null;
  private readonly keyValues: unknown[] = [];
  private readonly argValues: unknown[];

  constructor(
    plan: GroupedPlan,
    private readonly where: Eval | null,
    private readonly columns: OutputColumn[],
    private readonly having: Eval | null,
    private readonly emit: Emit,
    private readonly counters: Counters,
    windowId: string | null = null,
  ) {
    this.outEnv.windowId = windowId;
    this.keys = plan.keys;
    this.aggs = plan.aggregates;
    this.args = plan.aggregates.map((a) => a.arg);
    this.argValues = this.args.map(() => null);
    this.single = this.keys.length === 1 ? this.keys[0]! : null;
  }

  /**
   * Sets the row and time for the following calls; false when WHERE rejects the event or a CAST
   * in it fails. Every per-event value is computed here, before any state changes, so that a
   * failed CAST drops the event whole (counted as a conversion error) rather than half-counted.
   */
  accept(row: Row, t: number, extra: Eval[] = NO_EVALS, extraOut: unknown[] | null = null): boolean {
    const env = this.env;
    env.row = row;
    env.ts = t;
    try {
      if (this.where !== null && !isTrue(this.where(env))) return false;
      const keys = this.keys;
      if (keys.length === 1) this.key0 = keys[0]!(env);
      else if (keys.length > 1) {
        // One array per grouping, refilled per event (newGroup copies it): two of these per event and query were a visible share of the plant run's garbage.
        const kv = this.keyValues;
        for (let i = 0; i < keys.length; i++) kv[i] = keys[i]!(env);
      }
      const args = this.args;
      for (let i = 0; i < args.length; i++) {
        const f = args[i];
        this.argValues[i] = f === null ? null : f!(env);
      }
      for (let i = 0; i < extra.length; i++) extraOut![i] = extra[i]!(env);
      return true;
    } catch (err) {
      if (!isConversionFailure(err)) throw err;
      this.counters.conversionErrors++;
      return false;
    }
  }

  /**
   * A Map key for the accepted event's group. A single key column is used as is (no string
   * building on the hot path); several columns are joined as JSON.
   */
  mapKey(): unknown {
    if (this.single !== null) {
      const v = this.key0;
      if (v === undefined) return null;
      return v instanceof Date ? 'd' + v.getTime() : v;
    }
    if (this.keys.length === 0) return '';
    // JSON.stringify writes an undefined array element as null, as newGroup stores it.
    return JSON.stringify(this.keyValues);
  }

  /**
   * A fresh group for the accepted event. `like`, the same group in another pane, lends its key
   * values and text: 10 queries over 5,000 points hold ~35 panes per group, and a copy of both per
   * pane was 15 % of the engines' live heap (BENCHMARKS.md, plant).
   */
  newGroup(like?: GroupState): GroupState {
    if (like !== undefined) return { keyValues: like.keyValues, keyJson: like.keyJson, accs: this.newAccs() };
    const n = this.keys.length;
    const keyValues = n === 0 ? [] : n === 1 ? [this.key0 ?? null] : this.keyValues.map((v) => v ?? null);
    return { keyValues, keyJson: JSON.stringify(keyValues), accs: this.newAccs() };
  }

  /**
   * The Map key to store `group` under, given the event's `mapKey()`: with several key columns
   * both are the same JSON text, and the group's own copy is kept rather than a second one.
   */
  storedKey(key: unknown, group: GroupState): unknown {
    return typeof key === 'string' && this.single === null && key === group.keyJson ? group.keyJson : key;
  }

  newAccs(): Accumulator[] {
    return this.aggs.map((a) => a.create());
  }

  add(g: GroupState, row: Row, t: number, seq: number): void {
    const accs = g.accs;
    const vals = this.argValues;
    for (let i = 0; i < accs.length; i++) accs[i]!.add(vals[i], row, t, seq);
  }

  /** Merged copy of several groups' accumulators (a hopping window over its panes). */
  merge(parts: GroupState[]): GroupState {
    const first = parts[0]!;
    const accs = this.newAccs();
    for (const p of parts) for (let i = 0; i < accs.length; i++) accs[i]!.merge(p.accs[i]!);
    return { keyValues: first.keyValues, keyJson: first.keyJson, accs };
  }

  /** Renders and emits one group of one window; false when HAVING rejects it or a CAST in it fails (counted). */
  output(ws: number | null, we: number, g: GroupState, rev: number): boolean {
    const env = this.outEnv;
    env.ts = we;
    env.keys = g.keyValues;
    env.aggs = g.accs.map((a) => a.result());
    const row: Row = {};
    try {
      if (this.having !== null && !isTrue(this.having(env))) return false;
      for (const c of this.columns) row[c.name] = c.eval(env) ?? null;
    } catch (err) {
      if (!isConversionFailure(err)) throw err;
      this.counters.conversionErrors++;
      return false;
    }
    this.emit(ws, we, g.keyJson, rev, row);
    return true;
  }

  saveGroup(g: GroupState): unknown {
    return [g.keyValues, g.accs.map((a) => a.save())];
  }

  loadGroup(s: unknown): GroupState {
    const [keyValues, accStates] = s as [unknown[], unknown[]];
    const accs = this.newAccs();
    accs.forEach((a, i) => a.load(accStates[i]));
    return { keyValues, keyJson: JSON.stringify(keyValues), accs };
  }

  /** The Map key a restored group had (the same rule as mapKey, from stored values). */
  mapKeyOf(keyValues: unknown[]): unknown {
    if (this.single !== null) {
      const v = keyValues[0];
      return v instanceof Date ? 'd' + v.getTime() : v;
    }
    return this.keys.length === 0 ? '' : JSON.stringify(keyValues);
  }
}

const NO_EVALS: Eval[] = [];

export function byKey(a: GroupState, b: GroupState): number {
  return a.keyJson < b.keyJson ? -1 : a.keyJson > b.keyJson ? 1 : 0;
}
