import type { Row, WindowOperator } from './operator.js';

/**
 * The rows of a WITH step, handed to the statements that read it. A step may be a UNION of
 * several SELECTs (branches): readers get every branch's rows, numbered in one sequence, and the
 * smallest of the branches' watermarks, so no branch's rows can arrive behind it.
 */
export class StepHub {
  readonly consumers: WindowOperator[] = [];
  private seq = 0;
  private readonly wms: number[] = [];
  private wm = -Infinity;

  /** A new branch; returns its index for watermark(). */
  branch(): number {
    this.wms.push(-Infinity);
    return this.wms.length - 1;
  }

  row(row: Row, t: number): void {
    const seq = this.seq++;
    for (const c of this.consumers) c.onEvent(row, t, seq);
  }

  watermark(branch: number, wm: number): void {
    if (wm > this.wms[branch]!) this.wms[branch] = wm;
    let min = Infinity;
    for (const w of this.wms) if (w < min) min = w;
    if (min > this.wm) {
      this.wm = min;
      for (const c of this.consumers) c.onWatermark(min);
    }
  }

  save(): unknown {
    return { seq: this.seq, wms: [...this.wms], wm: this.wm };
  }

  load(state: unknown): void {
    const s = state as { seq: number; wms: number[]; wm: number };
    this.seq = s.seq;
    s.wms.forEach((w, i) => (this.wms[i] = w));
    this.wm = s.wm;
  }
}
