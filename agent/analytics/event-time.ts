import type { Logger } from '../core/logger.js';
import type { Eval, Env } from './expressions.js';
import { isConversionFailure, newEnv, timeOf } from './expressions.js';
import type { Row, WindowOperator } from './operator.js';
import { ReorderBuffer } from './reorder-buffer.js';
import type { Counters, StateBudget, Tolerances } from './tolerances.js';

/** What the stage needs from an event: its arrival time and the payload fields. */
export interface StageEvent extends Row {
  arrivalTime: number;
}

interface Partition {
  key: string;
  /** Newest final time seen (maxSeenAppTime of DESIGN §4). */
  maxSeen: number;
  buffer: ReorderBuffer<Row> | null;
}

/**
 * The event-time operator (eKuiper's watermark_op, DESIGN §4), in front of every window operator
 * that reads the input. Per event: ASA's early-arrival rule (more than 5 min ahead of arrival),
 * the late-arrival rule against its own arrival time, then the out-of-order rule against its
 * partition's newest time, each with the policy; then it is held in its partition's reorder
 * buffer until the watermark reaches it.
 *
 * Watermarks. A partition's watermark is max(maxSeen − O, maxArrival − L); the stage's
 * watermark is the minimum over partitions, which is max(min maxSeen − O, maxArrival − L).
 * The arrival term is the idle-partition rule: it is ASA's "no incoming events" watermark, and
 * it is safe because any later event is adjusted to at least its arrival − L. So a silent
 * partition holds results back by at most L behind the newest arrival (or behind `advance()`),
 * never forever. Windows fire when the stage watermark passes their end.
 */
export class EventTimeStage {
  private readonly partitions = new Map<string, Partition>();
  private lastPartition: Partition | null = null;
  private readonly pending = new Set<Partition>();
  private maxArrival = -Infinity;
  private watermark = -Infinity;
  private seq = 0;
  /** Smallest maxSeen over partitions, and how many partitions sit at it (recomputed lazily). */
  private minSeen = Infinity;
  private atMin = 0;
  private minDirty = false;
  /** Lower bound on the earliest time held in any partition buffer. */
  private minHeld = Infinity;
  private readonly env: Env = newEnv();
  private readonly L: number;
  private readonly O: number;
  private readonly revise: boolean;
  private readonly adjust: boolean;

  constructor(
    private readonly tol: Tolerances,
    private readonly timestamp: Eval | null,
    private readonly over: Eval[],
    private readonly next: WindowOperator,
    private readonly counters: Counters,
    private readonly budget: StateBudget,
    private readonly log: Logger | null = null,
  ) {
    this.L = tol.lateArrivalMs;
    this.O = tol.outOfOrderMs;
    this.revise = tol.policy === 'revise';
    this.adjust = tol.policy === 'adjust';
  }

  get currentWatermark(): number {
    return this.watermark;
  }

  get latestArrival(): number {
    return this.maxArrival;
  }

  push(ev: StageEvent): void {
    const c = this.counters;
    const arrival = ev.arrivalTime;
    if (typeof arrival !== 'number' || !Number.isFinite(arrival)) {
      throw new TypeError(`analytics event needs a numeric arrivalTime (epoch ms), got ${String(arrival)}`);
    }
    if (arrival > this.maxArrival) this.maxArrival = arrival;
    let t: number;
    if (this.timestamp === null) {
      t = Math.floor(arrival);
    } else {
      this.env.row = ev;
      try {
        t = timeOf(this.timestamp(this.env));
      } catch (err) {
        if (!isConversionFailure(err)) throw err;
        c.conversionErrors++;
        this.updateWatermark();
        return;
      }
      if (Number.isNaN(t)) {
        // ASA drops an event whose TIMESTAMP BY value is not a time.
        c.dropped++;
        this.updateWatermark();
        return;
      }
    }
    if (t > arrival + this.tol.earlyArrivalMs) {
      // ASA drops an event more than 5 min ahead of its arrival, whatever the policy, and it
      // never moves a watermark: a device clock far ahead would otherwise drag its partition
      // into the future and every following on-time event with it.
      c.earlyInput++;
      c.dropped++;
      this.trace('early', ev, t, arrival, null);
      this.updateWatermark();
      return;
    }
    let p: Partition;
    try {
      p = this.partitionOf(ev);
    } catch (err) {
      if (!isConversionFailure(err)) throw err;
      c.conversionErrors++;
      this.updateWatermark();
      return;
    }
    const lateBound = arrival - this.L;
    const oooBound = p.maxSeen - this.O;
    const lower = Math.ceil(Math.max(lateBound, oooBound, this.watermark));
    let late = false;
    if (t < lower) {
      if (t < lateBound) c.lateInput++;
      if (Math.max(t, lateBound) < Math.max(oooBound, this.watermark)) c.outOfOrder++;
      const keep = this.revise && t >= lower - this.tol.allowedLatenessMs;
      this.trace(t < lateBound ? 'late' : 'out of order', ev, t, arrival, this.adjust ? lower : keep ? t : null);
      if (this.adjust) {
        t = lower;
        c.adjusted++;
      } else if (keep) {
        late = true;
      } else {
        c.dropped++;
        this.updateWatermark();
        return;
      }
    }
    const seq = this.seq++;
    if (late) {
      if (t < this.watermark) this.next.onLateEvent(ev, t, seq);
      else this.next.onEvent(ev, t, seq);
      this.updateWatermark();
      return;
    }
    if (t > p.maxSeen) this.raise(p, t);
    const pw = Math.max(p.maxSeen - this.O, this.maxArrival - this.L);
    const buf = p.buffer;
    if ((buf === null || buf.size === 0) && t <= pw) {
      this.next.onEvent(ev, t, seq);
    } else {
      this.hold(p, ev, t, seq);
      this.release(p, pw);
    }
    this.updateWatermark();
  }

  /** Off the hot path: only events that break a rule are traced, and only at debug level. */
  private trace(rule: string, ev: Row, t: number, arrival: number, final: number | null): void {
    const log = this.log;
    if (log === null || !log.isLevelEnabled('debug')) return;
    const iso = (ms: number) => new Date(ms).toISOString();
    log.debug(
      { rule, source: ev.source, appTime: iso(t), arrivalTime: iso(arrival), finalTime: final === null ? null : iso(final), watermark: Number.isFinite(this.watermark) ? iso(this.watermark) : null },
      final === null ? `${rule} event dropped` : final === t ? `${rule} event kept for revision` : `${rule} event adjusted`,
    );
  }

  /** Arrival time moves on without events (idle input): lets the arrival watermark advance. */
  advance(arrivalTime: number): void {
    if (arrivalTime > this.maxArrival) this.maxArrival = arrivalTime;
    this.updateWatermark();
  }

  /** End of input (replay): release everything and close every window. */
  flush(): void {
    for (const p of this.partitions.values()) this.release(p, Infinity);
    this.watermark = Infinity;
    this.next.onWatermark(Infinity);
  }

  watermarkDelay(): number {
    return Number.isFinite(this.maxArrival) && Number.isFinite(this.watermark) ? Math.max(0, this.maxArrival - this.watermark) : 0;
  }

  private partitionOf(ev: Row): Partition {
    let key: string;
    if (this.over.length === 0) {
      const s = ev.source;
      key = typeof s === 'string' ? s : s == null ? '' : String(s);
    } else {
      this.env.row = ev;
      key = this.over.length === 1 ? String(this.over[0]!(this.env)) : JSON.stringify(this.over.map((f) => f(this.env)));
    }
    // Readings come in bursts per device: the previous partition is the likeliest one.
    const last = this.lastPartition;
    if (last !== null && last.key === key) return last;
    let p = this.partitions.get(key);
    if (p === undefined) {
      p = { key, maxSeen: -Infinity, buffer: null };
      this.partitions.set(key, p);
      // A partition that has seen nothing does not hold the watermark back.
    }
    this.lastPartition = p;
    return p;
  }

  private raise(p: Partition, t: number): void {
    const old = p.maxSeen;
    p.maxSeen = t;
    if (old === -Infinity) {
      if (t < this.minSeen) {
        this.minSeen = t;
        this.atMin = 1;
      } else if (t === this.minSeen) {
        this.atMin++;
      }
      return;
    }
    if (old === this.minSeen && --this.atMin === 0) this.minDirty = true;
  }

  private hold(p: Partition, ev: Row, t: number, seq: number): void {
    this.budget.take(1);
    if (p.buffer === null) p.buffer = new ReorderBuffer<Row>();
    p.buffer.push(t, seq, ev);
    this.pending.add(p);
    if (t < this.minHeld) this.minHeld = t;
  }

  private release(p: Partition, upTo: number): void {
    const buf = p.buffer;
    if (buf === null) return;
    let n = 0;
    while (buf.size > 0 && buf.peekTime() <= upTo) {
      const h = buf.pop()!;
      n++;
      this.next.onEvent(h.item, h.t, h.seq);
    }
    if (n > 0) this.budget.give(n);
    if (buf.size === 0) this.pending.delete(p);
  }

  private updateWatermark(): void {
    if (this.minDirty) this.recomputeMin();
    const arrivalWm = this.maxArrival - this.L;
    const seenWm = this.minSeen === Infinity ? -Infinity : this.minSeen - this.O;
    const wm = Math.floor(Math.max(seenWm, arrivalWm));
    if (!(wm > this.watermark)) return;
    if (this.pending.size > 0 && arrivalWm >= this.minHeld) {
      let minHeld = Infinity;
      for (const p of [...this.pending]) {
        this.release(p, Math.max(p.maxSeen - this.O, arrivalWm));
        if (p.buffer !== null && p.buffer.size > 0) minHeld = Math.min(minHeld, p.buffer.peekTime());
      }
      this.minHeld = minHeld;
    }
    this.watermark = wm;
    this.next.onWatermark(wm);
  }

  private recomputeMin(): void {
    let min = Infinity;
    let n = 0;
    for (const p of this.partitions.values()) {
      const s = p.maxSeen;
      if (s === -Infinity) continue;
      if (s < min) {
        min = s;
        n = 1;
      } else if (s === min) {
        n++;
      }
    }
    this.minSeen = min;
    this.atMin = n;
    this.minDirty = false;
  }

  save(): unknown {
    return {
      maxArrival: this.maxArrival,
      watermark: this.watermark,
      seq: this.seq,
      partitions: [...this.partitions.values()].map((p) => [p.key, p.maxSeen, p.buffer ? p.buffer.sorted().map((h) => [h.t, h.seq, h.item]) : []]),
      // Partitions with held events release in this order when the watermark moves: a restore must keep it.
      pending: [...this.pending].map((p) => p.key),
    };
  }

  load(state: unknown): void {
    const s = state as { maxArrival: number; watermark: number; seq: number; partitions: Array<[string, number, Array<[number, number, Row]>]>; pending?: string[] };
    this.maxArrival = s.maxArrival;
    this.watermark = s.watermark;
    this.seq = s.seq;
    this.partitions.clear();
    this.lastPartition = null;
    this.pending.clear();
    this.minHeld = Infinity;
    for (const [key, maxSeen, held] of s.partitions) {
      const p: Partition = { key, maxSeen, buffer: null };
      this.partitions.set(key, p);
      for (const [t, seq, item] of held) this.hold(p, item, t, seq);
    }
    if (s.pending !== undefined) {
      const held = [...this.pending];
      const order = s.pending.map((k) => this.partitions.get(k)).filter((p): p is Partition => p !== undefined && this.pending.has(p));
      this.pending.clear();
      for (const p of [...order, ...held]) this.pending.add(p);
    }
    this.recomputeMin();
  }
}
