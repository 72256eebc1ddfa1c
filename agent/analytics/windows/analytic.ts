import { ANALYTIC_VALUES, isConversionFailure, newEnv, type AnalyticCall, type Env } from '../expressions.js';
import type { Row, WindowOperator } from '../operator.js';
import { ReorderBuffer } from '../reorder-buffer.js';
import type { Counters, StateBudget } from '../tolerances.js';
import { compare, isTrue, toNumber } from '../values.js';
import { changePoint, spikeAndDip, type AnomalyResult } from '../anomaly.js';

/** An event remembered by LAG, LAST or anomaly detection: its time, the value, and (ChangePoint) the martingale's log after it. */
type Entry = [t: number, value: unknown, extra?: unknown];

/** Per call site and PARTITION BY value: LAG/LAST keep their newest entries, ISFIRST the last interval seen. */
type PartState = Entry[] | number;

/** How many events pass between sweeps of partitions that fell out of their LIMIT DURATION. */
const SWEEP_EVERY = 4096;

/**
 * ASA's analytic functions (LAG, LAST, ISFIRST). They read the statement's input in time order
 * (ties in arrival order), before WHERE, GROUP BY or anything else, so this operator sits in
 * front of the statement's own: it holds events until the watermark passes them — partitions
 * interleave — then computes every call site's value for each event and hands on a copy of the
 * event carrying them (ANALYTIC_VALUES), which the compiled calls read.
 *
 * LAG(x, k) is x of the k-th previous event of the same PARTITION BY value that satisfies WHEN
 * and is no more than LIMIT DURATION older; LAST(x) is LAG(x, 0), so the current event counts
 * when it satisfies WHEN; ISFIRST(unit, n) is 1 for the first event satisfying WHEN in its
 * tumbling interval (aligned as TumblingWindow is), 0 otherwise. State is the last k entries per
 * partition, bounded by the state budget. AnomalyDetection_SpikeAndDip and _ChangePoint are the
 * same kind of function (see anomaly.ts): they keep the last `history` values per partition.
 */
export class AnalyticOperator implements WindowOperator {
  private readonly buf = new ReorderBuffer<Row>();
  private readonly env: Env = newEnv();
  private readonly states: Array<Map<string, PartState>>;
  private readonly keys: string[];
  private readonly oks: boolean[];
  private readonly values: unknown[];
  private readonly fallbacks: unknown[];
  private readonly orderKeys: unknown[][];
  private entries = 0;
  private sinceSweep = 0;

  constructor(
    private readonly calls: AnalyticCall[],
    private readonly inner: WindowOperator,
    private readonly budget: StateBudget,
    private readonly counters: Counters,
  ) {
    this.states = calls.map(() => new Map());
    this.keys = calls.map(() => '');
    this.oks = calls.map(() => false);
    this.values = calls.map(() => null);
    this.fallbacks = calls.map(() => null);
    this.orderKeys = calls.map(() => []);
  }

  onEvent(row: Row, t: number, seq: number): void {
    this.budget.take(1);
    this.buf.push(t, seq, row);
  }

  onLateEvent(): void {
    // LAG and friends have already answered for the events after it; a revision would need
    // every later row again. Counted, as sliding and session windows do.
    this.counters.dropped++;
  }

  onWatermark(wm: number): void {
    // Events at the watermark wait: another one with the same time may still come before them in arrival order.
    const n = this.buf.releaseBefore(wm, (h) => this.process(h.item, h.t, h.seq));
    if (n > 0) this.budget.give(n);
    this.sinceSweep += n;
    if (this.sinceSweep >= SWEEP_EVERY && Number.isFinite(wm)) this.sweep(wm);
    this.inner.onWatermark(wm);
  }

  private process(row: Row, t: number, seq: number): void {
    const env = this.env;
    env.row = row;
    env.ts = t;
    const calls = this.calls;
    // Every expression first, so that a failed CAST drops the event before any state changes.
    try {
      for (let i = 0; i < calls.length; i++) {
        const c = calls[i]!;
        this.keys[i] = partitionKey(c, env);
        this.oks[i] = c.when === null || isTrue(c.when(env));
        this.values[i] = c.fn === 'ISFIRST' ? null : c.value === null ? recordOf(row) : (c.value(env) ?? null);
        this.fallbacks[i] = c.fallback === null ? null : (c.fallback(env) ?? null);
        if (c.order.length > 0) this.orderKeys[i] = c.order.map((o) => o.key(env) ?? null);
      }
    } catch (err) {
      if (!isConversionFailure(err)) throw err;
      this.counters.conversionErrors++;
      return;
    }
    const results = new Array<unknown>(calls.length);
    for (let i = 0; i < calls.length; i++) results[i] = this.apply(i, t);
    const out: Row = { ...row };
    out[ANALYTIC_VALUES] = results;
    this.inner.onEvent(out, t, seq);
  }

  private apply(i: number, t: number): unknown {
    const c = this.calls[i]!;
    const states = this.states[i]!;
    const key = this.keys[i]!;
    const ok = this.oks[i]!;
    if (c.fn === 'ISFIRST') {
      if (!ok) return 0;
      const size = c.durationMs;
      const interval = Math.ceil(t / size) * size;
      if (states.get(key) === interval) return 0;
      if (!states.has(key)) this.grow(1);
      states.set(key, interval);
      return 1;
    }
    let hist = states.get(key) as Entry[] | undefined;
    if (hist !== undefined) {
      // Out of LIMIT DURATION: older than the current event by more than the duration.
      let drop = 0;
      while (drop < hist.length && hist[drop]![0] < t - c.durationMs) drop++;
      if (drop > 0) {
        hist.splice(0, drop);
        this.grow(-drop);
      }
    }
    if (c.anomaly !== null) return this.anomaly(c, states, key, hist, ok, t, this.values[i]);
    if (c.fn === 'SUM' || c.fn === 'AVG' || c.fn === 'MIN' || c.fn === 'MAX') return this.windowed(c, states, key, hist, ok, t, this.values[i]);
    if (c.fn === 'TOPONE') return this.topOne(c, states, key, hist, ok, t, this.values[i], this.orderKeys[i]!);
    const keep = c.offset === 0 ? 1 : c.offset;
    let result: unknown;
    if (c.offset === 0 && ok) result = this.values[i];
    else if (hist !== undefined && hist.length >= keep) result = hist[hist.length - keep]![1];
    else result = this.fallbacks[i];
    if (ok) {
      if (hist === undefined) {
        hist = [];
        states.set(key, hist);
      }
      if (hist.length >= keep) {
        // Full: the oldest entry is reused for the newest (no allocation per event).
        const e = hist.shift()!;
        e[0] = t;
        e[1] = this.values[i];
        hist.push(e);
      } else {
        hist.push([t, this.values[i]]);
        this.grow(1);
      }
    } else if (hist !== undefined && hist.length === 0) {
      states.delete(key);
    }
    return result;
  }

  /**
   * AnomalyDetection_*: scores the value against the partition's history (the last `history`
   * values satisfying WHEN within LIMIT DURATION), then adds it. A NULL or non-numeric value is
   * not scored (NULL) and not learnt. After a change point the history starts over: the series
   * has a new level to learn, and one change is reported once.
   */
  private anomaly(c: AnalyticCall, states: Map<string, PartState>, key: string, hist: Entry[] | undefined, ok: boolean, t: number, v: unknown): unknown {
    const x = toNumber(v);
    if (!ok || x === null || !Number.isFinite(x)) return null;
    const a = c.anomaly!;
    const values = hist === undefined ? [] : hist.map((e) => e[1] as number);
    const full = values.length >= a.history;
    let result: AnomalyResult;
    let term: number | undefined;
    if (c.fn === 'ANOMALYDETECTION_SPIKEANDDIP') {
      result = spikeAndDip(values, x, a.confidence, a.mode, full);
    } else {
      // The martingale's logarithm rides on the newest entry.
      const prev = hist !== undefined && hist.length > 0 ? ((hist[hist.length - 1]![2] as number | undefined) ?? 0) : 0;
      const cp = changePoint(prev, values, x, a.confidence, full);
      result = cp.result;
      term = cp.log;
      if (result.IsAnomaly === 1 && hist !== undefined) {
        this.grow(-hist.length);
        hist.length = 0;
        term = 0;
      }
    }
    if (hist === undefined) {
      hist = [];
      states.set(key, hist);
    }
    hist.push(term === undefined ? [t, x] : [t, x, term]);
    this.grow(1);
    if (hist.length > a.history) {
      hist.shift();
      this.grow(-1);
    }
    return result;
  }

  /**
   * SUM/AVG/MIN/MAX OVER (… LIMIT DURATION …): over the partition's events satisfying WHEN within
   * the duration, the current one included ("how much history from the current row"). NULL and
   * non-numeric values count as SUM/AVG do in a window: not at all. The entries are kept; each
   * event recomputes over them (a window of a few thousand events at most in practice).
   */
  private windowed(c: AnalyticCall, states: Map<string, PartState>, key: string, hist: Entry[] | undefined, ok: boolean, t: number, v: unknown): unknown {
    if (ok && v != null) {
      if (hist === undefined) {
        hist = [];
        states.set(key, hist);
      }
      hist.push([t, v]);
      this.grow(1);
    }
    if (hist === undefined || hist.length === 0) return null;
    if (c.fn === 'MIN' || c.fn === 'MAX') {
      let best: unknown = null;
      const sign = c.fn === 'MIN' ? 1 : -1;
      for (const e of hist) {
        const x = e[1];
        if (best === null) best = x;
        else {
          const cmp = compare(x, best);
          if (cmp !== null && cmp * sign < 0) best = x;
        }
      }
      return best;
    }
    let sum = 0;
    let n = 0;
    for (const e of hist) {
      const x = toNumber(e[1]);
      if (x === null) continue;
      sum += x;
      n++;
    }
    if (n === 0) return null;
    return c.fn === 'SUM' ? sum : sum / n;
  }

  /**
   * TopOne(…) OVER (… ORDER BY … LIMIT DURATION …): the event that sorts first among the
   * partition's events within the duration satisfying WHEN, the current one included; NULL keys
   * sort last, ties go to the earlier event.
   */
  private topOne(c: AnalyticCall, states: Map<string, PartState>, key: string, hist: Entry[] | undefined, ok: boolean, t: number, v: unknown, keys: unknown[]): unknown {
    if (ok) {
      if (hist === undefined) {
        hist = [];
        states.set(key, hist);
      }
      hist.push([t, v, keys]);
      this.grow(1);
    }
    if (hist === undefined || hist.length === 0) return null;
    let best = hist[0]!;
    for (let k = 1; k < hist.length; k++) if (sortsBefore(c, hist[k]![2] as unknown[], best[2] as unknown[])) best = hist[k]!;
    return best[1];
  }

  private grow(n: number): void {
    if (n > 0) this.budget.take(n);
    else this.budget.give(-n);
    this.entries += n;
  }

  /** Forgets partitions no later event can see: every entry is older than the watermark − duration. */
  private sweep(wm: number): void {
    this.sinceSweep = 0;
    this.calls.forEach((c, i) => {
      const states = this.states[i]!;
      for (const [key, st] of states) {
        if (typeof st === 'number') {
          if (st < wm) {
            states.delete(key);
            this.grow(-1);
          }
        } else if (st.length === 0 || st[st.length - 1]![0] < wm - c.durationMs) {
          states.delete(key);
          this.grow(-st.length);
        }
      }
    });
  }

  save(): unknown {
    return {
      held: this.buf.sorted().map((h) => [h.t, h.seq, h.item]),
      states: this.states.map((m) => [...m]),
      inner: this.inner.save(),
    };
  }

  load(state: unknown): void {
    const s = state as { held: Array<[number, number, Row]>; states: Array<Array<[string, PartState]>>; inner: unknown };
    for (const [t, seq, row] of s.held) this.onEvent(row, t, seq);
    s.states.forEach((entries, i) => {
      const m = this.states[i]!;
      m.clear();
      for (const [key, st] of entries) {
        m.set(key, st);
        this.grow(typeof st === 'number' ? 1 : st.length);
      }
    });
    this.inner.load(s.inner);
  }
}

function sortsBefore(c: AnalyticCall, a: unknown[], b: unknown[]): boolean {
  for (let i = 0; i < c.order.length; i++) {
    const x = a[i];
    const y = b[i];
    if (x == null && y == null) continue;
    if (x == null) return false;
    if (y == null) return true;
    const cmp = compare(x, y);
    if (cmp === null || cmp === 0) continue;
    return c.order[i]!.desc ? cmp > 0 : cmp < 0;
  }
  return false;
}

/** PARTITION BY values as a Map key: one string column as it is (the usual case), else typed JSON. */
function partitionKey(c: AnalyticCall, env: Env): string {
  const p = c.partitionBy;
  if (p.length === 0) return '';
  if (p.length === 1) {
    const v = p[0]!(env);
    return typeof v === 'string' ? v : '\u0000' + JSON.stringify(v instanceof Date ? v.getTime() : (v ?? null));
  }
  return '\u0000' + JSON.stringify(p.map((f) => f(env) ?? null));
}

/** `LAG(*)`: the event as a record, without the engine's own fields. */
function recordOf(row: Row): Row {
  const out: Row = {};
  for (const k in row) if (k !== 'arrivalTime' && k !== ANALYTIC_VALUES) out[k] = row[k];
  return out;
}
