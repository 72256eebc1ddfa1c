import type { Row, WindowOperator } from '../operator.js';
import { ReorderBuffer } from '../reorder-buffer.js';
import type { Counters, StateBudget } from '../tolerances.js';
import type { Grouping } from './groups.js';

interface SlidingGroup {
  keyValues: unknown[];
  keyJson: string;
  /** Events in time order; entries before `head` have left the window. */
  events: Array<{ t: number; seq: number; row: Row }>;
  head: number;
  /** Last output time, so an event entering where another leaves gives one row. */
  lastOut: number;
}

/**
 * ASA's sliding window: a row whenever the content of (t − size, t] changes, i.e. when an event
 * enters (at its time) or leaves (at its time + size), and never for an empty window. Content
 * changes are order-sensitive, so this operator sits behind OrderedInput. A sliding window keeps
 * its events (MIN/MAX over a sliding window cannot be retracted), bounded by the state budget;
 * each output recomputes its aggregates over the window's events.
 */
export class SlidingWindowOperator implements WindowOperator {
  private readonly groups = new Map<unknown, SlidingGroup>();
  /** Pending output times, as (time, group) entries of a min-heap on time. */
  private readonly pending = new ReorderBuffer<SlidingGroup>();

  constructor(
    private readonly size: number,
    private readonly grouping: Grouping,
    private readonly budget: StateBudget,
    private readonly counters: Counters,
  ) {}

  onEvent(row: Row, t: number, seq: number): void {
    this.finalize(t);
    const gr = this.grouping;
    if (!gr.accept(row, t)) return;
    const key = gr.mapKey();
    let g = this.groups.get(key);
    if (g === undefined) {
      const keyValues = gr.newGroup().keyValues;
      g = { keyValues, keyJson: JSON.stringify(keyValues), events: [], head: 0, lastOut: -Infinity };
      this.groups.set(key, g);
    }
    this.budget.take(1);
    g.events.push({ t, seq, row });
    this.pending.push(t, 0, g);
    this.pending.push(t + this.size, 0, g);
  }

  onLateEvent(): void {
    // Revisions are for pane windows; a sliding window cannot take an event behind its output.
    this.counters.dropped++;
  }

  onWatermark(wm: number): void {
    this.finalize(wm);
  }

  /** Emits every pending output time before `frontier`: no event at or before them can still come. */
  private finalize(frontier: number): void {
    const pending = this.pending;
    if (pending.peekTime() >= frontier) return;
    const due: Array<{ x: number; g: SlidingGroup }> = [];
    while (pending.peekTime() < frontier) {
      const h = pending.pop()!;
      due.push({ x: h.t, g: h.item });
    }
    due.sort((a, b) => a.x - b.x || (a.g.keyJson < b.g.keyJson ? -1 : a.g.keyJson > b.g.keyJson ? 1 : 0));
    for (const { x, g } of due) {
      if (g.lastOut === x) continue;
      g.lastOut = x;
      this.outputAt(g, x);
    }
  }

  private outputAt(g: SlidingGroup, x: number): void {
    const start = x - this.size;
    const ev = g.events;
    let h = g.head;
    while (h < ev.length && ev[h]!.t <= start) h++;
    if (h > g.head) {
      this.budget.give(h - g.head);
      g.head = h;
      if (h > 64 && h * 2 > ev.length) {
        g.events = ev.slice(h);
        g.head = 0;
      }
    }
    const gr = this.grouping;
    const state = { keyValues: g.keyValues, keyJson: g.keyJson, accs: gr.newAccs() };
    let any = false;
    for (let i = g.head; i < g.events.length; i++) {
      const e = g.events[i]!;
      if (e.t > x) break;
      gr.accept(e.row, e.t);
      gr.add(state, e.row, e.t, e.seq);
      any = true;
    }
    if (any) gr.output(start, x, state, 0);
    if (g.head >= g.events.length) {
      g.events = [];
      g.head = 0;
    }
  }

  save(): unknown {
    return {
      groups: [...this.groups.values()].map((g) => [g.keyValues, g.events.slice(g.head).map((e) => [e.t, e.seq, e.row]), g.lastOut]),
      pending: this.pending.sorted().map((h) => [h.t, h.item.keyJson]),
    };
  }

  load(state: unknown): void {
    const s = state as { groups: Array<[unknown[], Array<[number, number, Row]>, number]>; pending: Array<[number, string]> };
    const byJson = new Map<string, SlidingGroup>();
    for (const [keyValues, events, lastOut] of s.groups) {
      const g: SlidingGroup = { keyValues, keyJson: JSON.stringify(keyValues), events: events.map(([t, seq, row]) => ({ t, seq, row })), head: 0, lastOut };
      this.budget.take(g.events.length);
      this.groups.set(this.grouping.mapKeyOf(keyValues), g);
      byJson.set(g.keyJson, g);
    }
    for (const [x, k] of s.pending) this.pending.push(x, 0, byJson.get(k)!);
  }
}
