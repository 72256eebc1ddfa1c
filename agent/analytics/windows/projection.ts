import type { Env } from '../expressions.js';
import { ANALYTIC_VALUES, isConversionFailure, newEnv } from '../expressions.js';
import type { Emit, Row, WindowOperator } from '../operator.js';
import type { StatementPlan } from '../plan.js';
import type { Counters } from '../tolerances.js';
import { isTrue } from '../values.js';

/**
 * A statement without GROUP BY: filter and project each event as the event-time stage releases
 * it. Its rows carry the event's final time; there is no window, so nothing to revise.
 */
export class ProjectionOperator implements WindowOperator {
  private readonly env: Env = newEnv();

  constructor(
    private readonly plan: StatementPlan,
    private readonly emit: Emit,
    private readonly counters: Counters,
  ) {}

  onEvent(row: Row, t: number): void {
    const env = this.env;
    env.row = row;
    env.ts = t;
    const out: Row = {};
    try {
      if (this.plan.where !== null && !isTrue(this.plan.where(env))) return;
      for (const c of this.plan.columns) {
        if (c.star) {
          for (const k in row) if (k !== 'arrivalTime' && k !== ANALYTIC_VALUES) out[k] = row[k];
        } else {
          out[c.name] = c.eval(env) ?? null;
        }
      }
    } catch (err) {
      if (!isConversionFailure(err)) throw err;
      this.counters.conversionErrors++;
      return;
    }
    this.emit(null, t, '', 0, out);
  }

  onLateEvent(row: Row, t: number): void {
    this.onEvent(row, t);
  }

  onWatermark(): void {}

  save(): unknown {
    return null;
  }

  load(): void {}
}
