import { isConversionFailure, JOIN_TIME, newEnv, type Env } from '../expressions.js';
import type { JoinPlan } from '../join-plan.js';
import type { Row, WindowOperator } from '../operator.js';
import type { ReferenceTable } from '../reference-table.js';
import type { Counters } from '../tolerances.js';
import { isTrue } from '../values.js';

/** Rows made from one event keep its place in arrival order, one after another. */
const SIBLING = 1 / 1_048_576;

/**
 * JOIN against reference data: each event is looked up in the table as it is now (the table
 * has no time, so nothing waits), one row per matching table row; under LEFT OUTER an event
 * without a match gives one row with NULLs for the table's side. A table not given yet is empty.
 */
export class ReferenceJoinOperator implements WindowOperator {
  private readonly env: Env = newEnv();
  private readonly leftTime: string;

  constructor(
    private readonly plan: JoinPlan,
    private readonly table: () => ReferenceTable | undefined,
    private readonly inner: WindowOperator,
    private readonly counters: Counters,
  ) {
    this.leftTime = JOIN_TIME + plan.left.alias.toLowerCase();
  }

  onEvent(row: Row, t: number, seq: number): void {
    this.each(row, t, (out, i) => this.inner.onEvent(out, t, seq + i * SIBLING));
  }

  onLateEvent(row: Row, t: number, seq: number): void {
    this.each(row, t, (out, i) => this.inner.onLateEvent(out, t, seq + i * SIBLING));
  }

  private each(row: Row, t: number, f: (out: Row, i: number) => void): void {
    const p = this.plan;
    const env = this.env;
    const table = this.table();
    let n = 0;
    try {
      let candidates: readonly Row[] = [];
      if (table !== undefined) {
        if (p.leftKey === null || p.rightKey === null) candidates = table.rows;
        else {
          env.row = row;
          env.ts = t;
          const key = p.leftKey(env) as string | null;
          candidates = key === null ? [] : table.lookup(p.rightKey, key);
        }
      }
      const out: Row[] = [];
      for (const r of candidates) {
        const joined = this.joined(row, t, r);
        if (p.residual !== null) {
          env.row = joined;
          env.ts = t;
          if (!isTrue(p.residual(env))) continue;
        }
        out.push(joined);
      }
      if (out.length === 0 && p.kind === 'left') out.push(this.joined(row, t, null));
      for (const o of out) f(o, n++);
    } catch (err) {
      if (!isConversionFailure(err)) throw err;
      this.counters.conversionErrors++;
    }
  }

  private joined(l: Row, t: number, r: Row | null): Row {
    const p = this.plan;
    const row: Row = r === null ? { ...l } : { ...r, ...l };
    row[p.left.alias] = l;
    row[p.right.alias] = r;
    row[this.leftTime] = t;
    return row;
  }

  onWatermark(wm: number): void {
    this.inner.onWatermark(wm);
  }

  save(): unknown {
    return this.inner.save();
  }

  load(state: unknown): void {
    this.inner.load(state);
  }
}
