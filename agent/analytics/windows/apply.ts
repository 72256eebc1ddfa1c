import { isConversionFailure, newEnv, type Env } from '../expressions.js';
import type { Row, WindowOperator } from '../operator.js';
import type { ApplyPlan } from '../plan.js';
import type { Counters } from '../tolerances.js';

/** Siblings from one event keep its place in arrival order, one after another. */
const SIBLING = 1 / 1_048_576;

/**
 * CROSS APPLY GetArrayElements(x) AS e / GetRecordProperties(x) AS p, as ASA documents them: each
 * event becomes one row per element (`e.ArrayIndex`, `e.ArrayValue`) or property
 * (`p.PropertyName`, `p.PropertyValue`), with the event's own fields beside it; an event whose
 * value is not an array (a record) or is empty yields no row, as CROSS APPLY does in SQL.
 */
export class ApplyOperator implements WindowOperator {
  private readonly env: Env = newEnv();

  constructor(
    private readonly plan: ApplyPlan,
    private readonly inner: WindowOperator,
    private readonly counters: Counters,
  ) {}

  onEvent(row: Row, t: number, seq: number): void {
    this.each(row, t, (out, i) => this.inner.onEvent(out, t, seq + i * SIBLING));
  }

  onLateEvent(row: Row, t: number, seq: number): void {
    this.each(row, t, (out, i) => this.inner.onLateEvent(out, t, seq + i * SIBLING));
  }

  private each(row: Row, t: number, f: (out: Row, i: number) => void): void {
    this.env.row = row;
    this.env.ts = t;
    let v: unknown;
    try {
      v = this.plan.arg(this.env);
    } catch (err) {
      if (!isConversionFailure(err)) throw err;
      this.counters.conversionErrors++;
      return;
    }
    const alias = this.plan.alias;
    if (this.plan.records) {
      if (v === null || typeof v !== 'object' || Array.isArray(v) || v instanceof Date) return;
      let i = 0;
      for (const [name, value] of Object.entries(v as Row)) f({ ...row, [alias]: { PropertyName: name, PropertyValue: value } }, i++);
      return;
    }
    if (!Array.isArray(v)) return;
    v.forEach((value, i) => f({ ...row, [alias]: { ArrayIndex: i, ArrayValue: value } }, i));
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
