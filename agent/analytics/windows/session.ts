import type { Eval } from '../expressions.js';
import type { Row, WindowOperator } from '../operator.js';
import type { Counters, StateBudget } from '../tolerances.js';
import { byKey, type GroupState, type Grouping } from './groups.js';

interface Session {
  partition: string;
  start: number;
  last: number;
  end: number;
  groups: Map<unknown, GroupState>;
}

/**
 * ASA's session window. A session starts at its first event and extends while the next event
 * comes within `timeout` of the last one; it ends at last + timeout, or at the first
 * maximum-duration check point (multiples of maxDuration from the epoch) where it has grown
 * beyond maxDuration — so a session can last up to twice maxDuration, as ASA documents — and
 * when events were still coming, the next session starts at that check point. With
 * OVER (PARTITION BY k) each k has its own sessions; otherwise sessions span all groups.
 * Results are stamped with the session end; ws is the session's first event (inclusive).
 * Merging depends on order, so this operator sits behind OrderedInput.
 */
export class SessionWindowOperator implements WindowOperator {
  private readonly sessions = new Map<string, Session>();
  /** Sessions ended by a later event of their partition, emitted with the next watermark so output order is by end. */
  private closed: Session[] = [];
  /** Per partition, [end, last event] of a session cut by the maximum duration, until its timeout passes. */
  private readonly cuts = new Map<string, [number, number]>();
  private minEnd = Infinity;
  private readonly pkValues: unknown[] = [];

  constructor(
    private readonly timeout: number,
    private readonly maxDuration: number | null,
    private readonly partitionBy: Eval[],
    private readonly grouping: Grouping,
    private readonly budget: StateBudget,
    private readonly counters: Counters,
  ) {}

  onEvent(row: Row, t: number, seq: number): void {
    const gr = this.grouping;
    if (!gr.accept(row, t, this.partitionBy, this.pkValues)) return;
    const pk = this.partitionBy.length === 0 ? '' : JSON.stringify(this.pkValues.map((v) => v ?? null));
    let s = this.sessions.get(pk);
    if (s !== undefined && t > s.end) {
      this.sessions.delete(pk);
      this.closed.push(s);
      this.noteCut(s);
      s = undefined;
    }
    let start = t;
    if (s === undefined && this.cuts.size > 0) {
      const cut = this.cuts.get(pk);
      if (cut !== undefined) {
        this.cuts.delete(pk);
        // Cut by the maximum duration while events kept coming: ASA opens the next window at the cut.
        if (t <= cut[1] + this.timeout) start = cut[0];
      }
    }
    if (s === undefined) {
      this.budget.take(1);
      s = { partition: pk, start, last: t, end: this.endOf(start, t), groups: new Map() };
      this.sessions.set(pk, s);
    } else if (t > s.last) {
      s.last = t;
      s.end = this.endOf(s.start, t);
    }
    if (s.end < this.minEnd) this.minEnd = s.end;
    const key = gr.mapKey();
    let g = s.groups.get(key);
    if (g === undefined) {
      this.budget.take(1);
      g = gr.newGroup();
      s.groups.set(key, g);
    }
    gr.add(g, row, t, seq);
  }

  private endOf(start: number, last: number): number {
    const byTimeout = last + this.timeout;
    const m = this.maxDuration;
    if (m === null) return byTimeout;
    const check = (Math.floor((start + m) / m) + 1) * m;
    return Math.min(byTimeout, check);
  }

  onLateEvent(): void {
    // A session that has closed cannot be re-opened without retracting its row; see README.
    this.counters.dropped++;
  }

  private noteCut(s: Session): void {
    if (s.end < s.last + this.timeout) this.cuts.set(s.partition, [s.end, s.last]);
  }

  onWatermark(wm: number): void {
    if (this.cuts.size > 0) for (const [pk, [, last]] of this.cuts) if (last + this.timeout < wm) this.cuts.delete(pk);
    if (!(wm > this.minEnd) && this.closed.length === 0) return;
    const due: Session[] = this.closed;
    this.closed = [];
    let minEnd = Infinity;
    for (const s of this.sessions.values()) {
      if (s.end < wm) {
        due.push(s);
        this.noteCut(s);
      }
      else if (s.end < minEnd) minEnd = s.end;
    }
    this.minEnd = minEnd;
    this.close(due);
  }

  private close(list: Session[]): void {
    list.sort((a, b) => a.end - b.end || (a.partition < b.partition ? -1 : a.partition > b.partition ? 1 : 0));
    for (const s of list) {
      if (this.sessions.get(s.partition) === s) this.sessions.delete(s.partition);
      this.budget.give(1 + s.groups.size);
      const groups = [...s.groups.values()].sort(byKey);
      for (const g of groups) this.grouping.output(s.start, s.end, g, 0);
    }
  }

  save(): unknown {
    const one = (s: Session) => [s.partition, s.start, s.last, s.end, [...s.groups.values()].map((g) => this.grouping.saveGroup(g))];
    return { open: [...this.sessions.values()].map(one), closed: this.closed.map(one), cuts: [...this.cuts] };
  }

  load(state: unknown): void {
    type Saved = [string, number, number, number, unknown[]];
    const st = state as { open: Saved[]; closed: Saved[]; cuts: Array<[string, [number, number]]> };
    const one = ([partition, start, last, end, groups]: Saved): Session => {
      const s: Session = { partition, start, last, end, groups: new Map() };
      for (const gs of groups) {
        const g = this.grouping.loadGroup(gs);
        s.groups.set(this.grouping.mapKeyOf(g.keyValues), g);
      }
      this.budget.take(1 + s.groups.size);
      return s;
    };
    for (const saved of st.open) {
      const s = one(saved);
      this.sessions.set(s.partition, s);
      if (s.end < this.minEnd) this.minEnd = s.end;
    }
    this.closed = st.closed.map(one);
    for (const [pk, cut] of st.cuts) this.cuts.set(pk, cut);
  }
}
