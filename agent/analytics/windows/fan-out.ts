import type { Row, WindowOperator } from '../operator.js';

/**
 * ASA's Windows(…): one GROUP BY, several windows. Each window is its own operator over the same
 * events (with its own Grouping, so System.Window().Id names it); rows come out per window, in
 * that window's order.
 */
export class FanOut implements WindowOperator {
  constructor(private readonly ops: WindowOperator[]) {}

  onEvent(row: Row, t: number, seq: number): void {
    for (const op of this.ops) op.onEvent(row, t, seq);
  }

  onLateEvent(row: Row, t: number, seq: number): void {
    for (const op of this.ops) op.onLateEvent(row, t, seq);
  }

  onWatermark(wm: number): void {
    for (const op of this.ops) op.onWatermark(wm);
  }

  save(): unknown {
    return this.ops.map((op) => op.save());
  }

  load(state: unknown): void {
    const s = state as unknown[];
    this.ops.forEach((op, i) => op.load(s[i]));
  }
}
