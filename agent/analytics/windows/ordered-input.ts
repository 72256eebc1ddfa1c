import type { Row, WindowOperator } from '../operator.js';
import { ReorderBuffer } from '../reorder-buffer.js';
import type { StateBudget } from '../tolerances.js';

/**
 * Sliding and session windows depend on event order, and partitions interleave, so this merge
 * buffer holds events until the watermark passes them and hands them on in (time, arrival)
 * order. Events at the watermark itself wait: another one with the same time may still come.
 */
export class OrderedInput implements WindowOperator {
  private readonly buf = new ReorderBuffer<Row>();

  constructor(
    private readonly inner: WindowOperator,
    private readonly budget: StateBudget,
  ) {}

  onEvent(row: Row, t: number, seq: number): void {
    this.budget.take(1);
    this.buf.push(t, seq, row);
  }

  onLateEvent(row: Row, t: number, seq: number): void {
    this.inner.onLateEvent(row, t, seq);
  }

  onWatermark(wm: number): void {
    const n = this.buf.releaseBefore(wm, (h) => this.inner.onEvent(h.item, h.t, h.seq));
    if (n > 0) this.budget.give(n);
    this.inner.onWatermark(wm);
  }

  save(): unknown {
    return { held: this.buf.sorted().map((h) => [h.t, h.seq, h.item]), inner: this.inner.save() };
  }

  load(state: unknown): void {
    const s = state as { held: Array<[number, number, Row]>; inner: unknown };
    for (const [t, seq, row] of s.held) this.onEvent(row, t, seq);
    this.inner.load(s.inner);
  }
}
