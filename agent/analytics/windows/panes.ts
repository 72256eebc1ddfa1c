import type { Row, WindowOperator } from '../operator.js';
import type { Counters, StateBudget } from '../tolerances.js';
import { byKey, type GroupState, type Grouping } from './groups.js';

export interface PaneWindowSpec {
  /** Window size, hop and offset in ms; tumbling has hop = size; snapshot is size = hop = 1 ms. */
  size: number;
  hop: number;
  offset: number;
  snapshot: boolean;
}

interface Pane {
  end: number;
  groups: Map<unknown, GroupState>;
}

/**
 * Tumbling, hopping and snapshot windows, incrementally. Time is cut into panes of
 * gcd(size, hop); an event updates the accumulators of one pane, and a window is the merge of
 * the panes in (end − size, end]. Windows end at offset + k·hop (epoch-aligned) and are emitted
 * in end order, groups by key, once the watermark has passed the end. Panes are dropped when
 * every window that uses them has been emitted and, under `revise`, its allowed lateness has
 * passed too.
 */
export class PaneWindowOperator implements WindowOperator {
  private readonly pane: number;
  private readonly panes = new Map<number, Pane>();
  /** Pane ends in ascending order. */
  private ends: number[] = [];
  /** The first window end not yet emitted; null before the first event. */
  private nextEnd: number | null = null;
  private wm = -Infinity;
  private lastPane: Pane | null = null;
  /** The newest pane before `lastPane`. */
  private priorPane: Pane | null = null;
  /** Under revise: the last revision emitted per retained window end and group key. */
  private readonly emitted = new Map<number, Map<string, number>>();

  constructor(
    private readonly spec: PaneWindowSpec,
    private readonly grouping: Grouping,
    private readonly budget: StateBudget,
    private readonly counters: Counters,
    private readonly allowedLateness: number,
  ) {
    this.pane = gcd(spec.size, spec.hop);
  }

  onEvent(row: Row, t: number, seq: number): void {
    const g = this.grouping;
    if (!g.accept(row, t)) return;
    const lp = this.lastPane;
    // Most events land in the newest pane: one comparison instead of a division and a Map lookup.
    const pane = lp !== null && t <= lp.end && t > lp.end - this.pane ? lp : this.paneFor(t);
    const key = g.mapKey();
    let group = pane.groups.get(key);
    if (group === undefined) {
      this.budget.take(1);
      // The group is usually in the pane before the newest one already: it lends its key.
      const like = pane === this.lastPane ? this.priorPane?.groups.get(key) : undefined;
      group = g.newGroup(like);
      pane.groups.set(g.storedKey(key, group), group);
    }
    g.add(group, row, t, seq);
  }

  onLateEvent(row: Row, t: number, seq: number): void {
    const g = this.grouping;
    if (!g.accept(row, t)) return;
    const pane = this.paneFor(t);
    const key = g.mapKey();
    let group = pane.groups.get(key);
    if (group === undefined) {
      this.budget.take(1);
      group = g.newGroup();
      pane.groups.set(key, group);
    }
    g.add(group, row, t, seq);
    if (this.nextEnd === null) return;
    const { size, hop } = this.spec;
    // Every already-emitted window holding this pane, still within allowed lateness, goes out again.
    for (let e = this.alignUp(pane.end); e < pane.end + size && e < this.nextEnd; e += hop) {
      if (e + this.allowedLateness < this.wm) continue;
      const parts = this.groupInWindow(e, key);
      if (parts.length === 0) continue;
      const merged = parts.length === 1 ? parts[0]! : g.merge(parts);
      let revs = this.emitted.get(e);
      if (revs === undefined) {
        revs = new Map();
        this.emitted.set(e, revs);
      }
      const prev = revs.get(merged.keyJson);
      const rev = prev === undefined ? 0 : prev + 1;
      if (g.output(this.spec.snapshot ? null : e - size, e, merged, rev)) {
        revs.set(merged.keyJson, rev);
        if (rev > 0) this.counters.revised++;
      }
    }
  }

  onWatermark(wm: number): void {
    this.wm = wm;
    if (this.ends.length === 0) return;
    // Start at the first pane's window, but not beyond the watermark: a held event may still come before it.
    if (this.nextEnd === null) this.nextEnd = Math.min(this.alignUp(this.ends[0]!), Number.isFinite(wm) ? this.alignUp(wm) : Infinity);
    if (this.nextEnd < wm) this.fire(wm);
    this.evict(wm);
  }

  private fire(wm: number): void {
    const { size, hop } = this.spec;
    let e = this.nextEnd!;
    const ends = this.ends;
    while (e < wm) {
      const i = lowerBound(ends, e - size + 1);
      if (i === ends.length) {
        // No data for any window before the watermark: skip straight past it.
        e = Number.isFinite(wm) ? this.alignUp(wm) : Infinity;
        break;
      }
      if (ends[i]! > e) {
        // Skip empty windows, but never past the watermark: later events may still land there.
        e = Math.min(this.alignUp(ends[i]!), Number.isFinite(wm) ? this.alignUp(wm) : Infinity);
        continue;
      }
      this.emitWindow(e, i);
      e += hop;
    }
    this.nextEnd = e;
  }

  private emitWindow(e: number, first: number): void {
    const g = this.grouping;
    const ends = this.ends;
    let groups: GroupState[];
    if (first + 1 >= ends.length || ends[first + 1]! > e) {
      groups = [...this.panes.get(ends[first]!)!.groups.values()];
    } else {
      const byMapKey = new Map<unknown, GroupState[]>();
      for (let j = first; j < ends.length && ends[j]! <= e; j++) {
        for (const [k, grp] of this.panes.get(ends[j]!)!.groups) {
          const list = byMapKey.get(k);
          if (list === undefined) byMapKey.set(k, [grp]);
          else list.push(grp);
        }
      }
      groups = [...byMapKey.values()].map((parts) => (parts.length === 1 ? parts[0]! : g.merge(parts)));
    }
    groups.sort(byKey);
    const ws = this.spec.snapshot ? null : e - this.spec.size;
    const retain = this.allowedLateness > 0;
    let revs: Map<string, number> | undefined;
    for (const grp of groups) {
      if (g.output(ws, e, grp, 0) && retain) {
        if (revs === undefined) {
          revs = new Map();
          this.emitted.set(e, revs);
        }
        revs.set(grp.keyJson, 0);
      }
    }
  }

  private groupInWindow(e: number, key: unknown): GroupState[] {
    const out: GroupState[] = [];
    const ends = this.ends;
    for (let j = lowerBound(ends, e - this.spec.size + 1); j < ends.length && ends[j]! <= e; j++) {
      const grp = this.panes.get(ends[j]!)!.groups.get(key);
      if (grp !== undefined) out.push(grp);
    }
    return out;
  }

  private evict(wm: number): void {
    const ends = this.ends;
    const next = this.nextEnd!;
    let n = 0;
    while (n < ends.length) {
      const last = this.lastWindowEnd(ends[n]!);
      if (!(last < next && last + this.allowedLateness < wm)) break;
      const pane = this.panes.get(ends[n]!)!;
      this.budget.give(pane.groups.size);
      this.panes.delete(pane.end);
      if (this.lastPane === pane) this.lastPane = null;
      if (this.priorPane === pane) this.priorPane = null;
      n++;
    }
    if (n > 0) this.ends = ends.slice(n);
    if (this.emitted.size > 0) {
      for (const e of this.emitted.keys()) if (e + this.allowedLateness < wm) this.emitted.delete(e);
    }
  }

  private paneFor(t: number): Pane {
    const { offset } = this.spec;
    const p = this.pane;
    const end = Math.ceil((t - offset) / p) * p + offset;
    let pane = this.panes.get(end);
    if (pane === undefined) {
      pane = { end, groups: new Map() };
      this.panes.set(end, pane);
      const ends = this.ends;
      if (ends.length === 0 || ends[ends.length - 1]! < end) ends.push(end);
      else ends.splice(lowerBound(ends, end), 0, end);
    }
    if (this.lastPane === null || end > this.lastPane.end) {
      this.priorPane = this.lastPane;
      this.lastPane = pane;
    }
    return pane;
  }

  /** The first window end at or after x. */
  private alignUp(x: number): number {
    const { hop, offset } = this.spec;
    return Math.ceil((x - offset) / hop) * hop + offset;
  }

  /** The last window end whose window still contains the pane ending at p. */
  private lastWindowEnd(p: number): number {
    const { size, hop, offset } = this.spec;
    return Math.floor((p + size - 1 - offset) / hop) * hop + offset;
  }

  save(): unknown {
    const g = this.grouping;
    return {
      nextEnd: this.nextEnd,
      wm: this.wm,
      panes: this.ends.map((e) => [e, [...this.panes.get(e)!.groups.values()].map((grp) => g.saveGroup(grp))]),
      emitted: [...this.emitted].map(([e, m]) => [e, [...m]]),
    };
  }

  load(state: unknown): void {
    const s = state as { nextEnd: number | null; wm: number; panes: Array<[number, unknown[]]>; emitted: Array<[number, Array<[string, number]>]> };
    const g = this.grouping;
    this.nextEnd = s.nextEnd;
    this.wm = s.wm;
    this.panes.clear();
    this.ends = [];
    this.lastPane = null;
    this.priorPane = null;
    for (const [end, groups] of s.panes) {
      const pane: Pane = { end, groups: new Map() };
      for (const gs of groups) {
        const grp = g.loadGroup(gs);
        pane.groups.set(g.mapKeyOf(grp.keyValues), grp);
      }
      this.budget.take(pane.groups.size);
      this.panes.set(end, pane);
      this.ends.push(end);
    }
    this.emitted.clear();
    for (const [e, m] of s.emitted) this.emitted.set(e, new Map(m));
  }
}

/** First index i with a[i] >= x. */
function lowerBound(a: number[], x: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (a[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}
