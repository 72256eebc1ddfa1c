import type { Accumulator } from '../aggregates.js';
import type { AggregateCall, Env, Eval } from '../expressions.js';
import { newEnv } from '../expressions.js';
import type { Emit, Row } from '../operator.js';
import type { GroupedPlan, OutputColumn } from '../plan.js';
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

  constructor(
    plan: GroupedPlan,
    private readonly where: Eval | null,
    private readonly columns: OutputColumn[],
    private readonly having: Eval | null,
    private readonly emit: Emit,
  ) {
    this.keys = plan.keys;
    this.aggs = plan.aggregates;
    this.args = plan.aggregates.map((a) => a.arg);
    this.single = this.keys.length === 1 ? this.keys[0]! : null;
  }

  /** Sets the row and time for the following calls; false when WHERE rejects the event. */
  accept(row: Row, t: number): boolean {
    const env = this.env;
    env.row = row;
    env.ts = t;
    return this.where === null || isTrue(this.where(env));
  }

  /**
   * A Map key for the current event's group. A single key column is used as is (no string
   * building on the hot path); several columns are joined as JSON.
   */
  mapKey(): unknown {
    const f = this.single;
    if (f !== null) {
      const v = f(this.env);
      if (v === undefined) return null;
      return v instanceof Date ? 'd' + v.getTime() : v;
    }
    if (this.keys.length === 0) return '';
    return JSON.stringify(this.keys.map((k) => k(this.env) ?? null));
  }

  newGroup(): GroupState {
    const keyValues = this.keys.map((k) => k(this.env) ?? null);
    return { keyValues, keyJson: JSON.stringify(keyValues), accs: this.newAccs() };
  }

  newAccs(): Accumulator[] {
    return this.aggs.map((a) => a.create());
  }

  add(g: GroupState, row: Row, t: number, seq: number): void {
    const accs = g.accs;
    const args = this.args;
    const env = this.env;
    for (let i = 0; i < accs.length; i++) {
      const f = args[i];
      accs[i]!.add(f === null ? null : f!(env), row, t, seq);
    }
  }

  /** Merged copy of several groups' accumulators (a hopping window over its panes). */
  merge(parts: GroupState[]): GroupState {
    const first = parts[0]!;
    const accs = this.newAccs();
    for (const p of parts) for (let i = 0; i < accs.length; i++) accs[i]!.merge(p.accs[i]!);
    return { keyValues: first.keyValues, keyJson: first.keyJson, accs };
  }

  /** Renders and emits one group of one window; false when HAVING rejects it. */
  output(ws: number | null, we: number, g: GroupState, rev: number): boolean {
    const env = this.outEnv;
    env.ts = we;
    env.keys = g.keyValues;
    env.aggs = g.accs.map((a) => a.result());
    if (this.having !== null && !isTrue(this.having(env))) return false;
    const row: Row = {};
    for (const c of this.columns) row[c.name] = c.eval(env) ?? null;
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

export function byKey(a: GroupState, b: GroupState): number {
  return a.keyJson < b.keyJson ? -1 : a.keyJson > b.keyJson ? 1 : 0;
}
