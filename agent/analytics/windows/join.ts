import { isConversionFailure, JOIN_TIME, newEnv, type Env } from '../expressions.js';
import type { JoinPlan } from '../join-plan.js';
import type { Row, WindowOperator } from '../operator.js';
import { ReorderBuffer } from '../reorder-buffer.js';
import type { Counters, StateBudget } from '../tolerances.js';
import { isTrue } from '../values.js';

interface Held {
  t: number;
  seq: number;
  row: Row;
  /** Equality key; null matches nothing (a NULL key value). */
  key: string | null;
  matched: boolean;
}

const LEFT = 0;

/**
 * ASA's stream–stream JOIN, symmetric: each side's events wait in a buffer (by equality key)
 * until the other side's watermark shows that no partner can still come — a left event at tL
 * can pair with right events in [tL + lo, tL + hi], so it goes once the right watermark passes
 * tL + hi; a right event at tR goes once the left watermark passes tR − lo. Each new event is
 * matched against the other side's buffer. A pair is stamped with the later of the two times,
 * the earliest moment the match is known (ASA's System.Timestamp() rule); under LEFT OUTER, a
 * left event that leaves without a partner is emitted with NULLs for the right side, stamped
 * tL + hi, when that becomes known. Joined rows go to the statement's own operator (projection
 * or window), whose watermark is the smaller of the two sides'.
 */
export class JoinOperator implements WindowOperator {
  private readonly buffers: [Map<string | null, Held[]>, Map<string | null, Held[]>] = [new Map(), new Map()];
  /** Expiry heaps: when the other side's watermark passes an entry's bound, it leaves. */
  private readonly expiry: [ReorderBuffer<Held>, ReorderBuffer<Held>] = [new ReorderBuffer(), new ReorderBuffer()];
  private readonly wms: [number, number] = [-Infinity, -Infinity];
  private wm = -Infinity;
  private seq = 0;
  private readonly env: Env = newEnv();
  private readonly leftTime: string;
  private readonly rightTime: string;

  constructor(
    private readonly plan: JoinPlan,
    private readonly inner: WindowOperator,
    private readonly budget: StateBudget,
    private readonly counters: Counters,
    /** Told each new joined watermark after the inner operator (the readers of a step). */
    private readonly afterWatermark: (wm: number) => void,
  ) {
    this.leftTime = JOIN_TIME + plan.left.alias.toLowerCase();
    this.rightTime = JOIN_TIME + plan.right.alias.toLowerCase();
  }

  /** The input of one side, for its event-time stage (or the step it reads). */
  port(side: 0 | 1): WindowOperator {
    return {
      onEvent: (row, t) => this.onSide(side, row, t),
      // A late event under revise would need rows already emitted to change: counted, as sliding windows do.
      onLateEvent: () => {
        this.counters.dropped++;
      },
      onWatermark: (wm) => this.onSideWatermark(side, wm),
      save: () => null,
      load: () => undefined,
    };
  }

  // The joined operator is fed through port(); these only satisfy the statement node.
  onEvent(): void {}
  onLateEvent(): void {}
  onWatermark(): void {}

  private onSide(side: 0 | 1, row: Row, t: number): void {
    const p = this.plan;
    const keyFn = side === LEFT ? p.leftKey : p.rightKey;
    let key: string | null = '';
    if (keyFn !== null) {
      this.env.row = row;
      this.env.ts = t;
      try {
        key = keyFn(this.env) as string | null;
      } catch (err) {
        if (!isConversionFailure(err)) throw err;
        this.counters.conversionErrors++;
        return;
      }
    }
    const h: Held = { t, seq: this.seq++, row, key, matched: false };
    if (key !== null) {
      const others = this.buffers[1 - side]!.get(key);
      if (others !== undefined) {
        for (const o of others) {
          const [l, r] = side === LEFT ? [h, o] : [o, h];
          const d = r.t - l.t;
          if (d < p.lo || d > p.hi) continue;
          if (this.pair(l, r)) l.matched = true;
        }
      }
    }
    // Every event waits for the other side, whatever its key: a LEFT OUTER row still has to come out.
    this.budget.take(1);
    const m = this.buffers[side]!;
    const list = m.get(key);
    if (list === undefined) m.set(key, [h]);
    else list.push(h);
    this.expiry[side]!.push(side === LEFT ? t + p.hi : t - p.lo, h.seq, h);
  }

  /** Emits l ⋈ r when the rest of ON holds; true when it did. */
  private pair(l: Held, r: Held): boolean {
    const row = this.joined(l, r);
    const p = this.plan;
    const t = Math.max(l.t, r.t);
    if (p.residual !== null) {
      this.env.row = row;
      this.env.ts = t;
      try {
        if (!isTrue(p.residual(this.env))) return false;
      } catch (err) {
        if (!isConversionFailure(err)) throw err;
        this.counters.conversionErrors++;
        return false;
      }
    }
    this.inner.onEvent(row, t, this.seq++);
    return true;
  }

  private joined(l: Held, r: Held | null): Row {
    const p = this.plan;
    // Unqualified names read the left side first, then the right (ASA asks for qualified names when they clash).
    const row: Row = r === null ? { ...l.row } : { ...r.row, ...l.row };
    row[p.left.alias] = l.row;
    row[p.right.alias] = r === null ? null : r.row;
    row[this.leftTime] = l.t;
    row[this.rightTime] = r === null ? null : r.t;
    return row;
  }

  private onSideWatermark(side: 0 | 1, wm: number): void {
    if (!(wm > this.wms[side]!)) return;
    this.wms[side] = wm;
    // This side's watermark releases the other side's entries.
    const other = (1 - side) as 0 | 1;
    const n = this.expiry[other]!.releaseBefore(wm, ({ item: h }) => {
      const list = this.buffers[other]!.get(h.key)!;
      const i = list.indexOf(h);
      if (i >= 0) list.splice(i, 1);
      if (list.length === 0) this.buffers[other]!.delete(h.key);
      if (other === LEFT && this.plan.kind === 'left' && !h.matched) {
        this.inner.onEvent(this.joined(h, null), h.t + this.plan.hi, this.seq++);
      }
    });
    if (n > 0) this.budget.give(n);
    const joined = Math.min(this.wms[0], this.wms[1]);
    if (joined > this.wm) {
      this.wm = joined;
      this.inner.onWatermark(joined);
      this.afterWatermark(joined);
    }
  }

  save(): unknown {
    const side = (i: 0 | 1) => this.expiry[i]!.sorted().map((e) => [e.item.t, e.item.seq, e.item.row, e.item.key, e.item.matched]);
    return { wms: [...this.wms], wm: this.wm, seq: this.seq, held: [side(0), side(1)], inner: this.inner.save() };
  }

  load(state: unknown): void {
    const s = state as { wms: [number, number]; wm: number; seq: number; held: Array<Array<[number, number, Row, string | null, boolean]>>; inner: unknown };
    this.wms[0] = s.wms[0];
    this.wms[1] = s.wms[1];
    this.wm = s.wm;
    this.seq = s.seq;
    s.held.forEach((list, i) => {
      const side = i as 0 | 1;
      // Buffers keep arrival order, which is the order partners are matched (and emitted) in.
      for (const [t, seq, row, key, matched] of [...list].sort((a, b) => a[1] - b[1])) {
        const h: Held = { t, seq, row, key, matched };
        this.budget.take(1);
        const m = this.buffers[side]!;
        const l = m.get(key);
        if (l === undefined) m.set(key, [h]);
        else l.push(h);
        this.expiry[side]!.push(side === LEFT ? t + this.plan.hi : t - this.plan.lo, seq, h);
      }
    });
    this.inner.load(s.inner);
  }
}
