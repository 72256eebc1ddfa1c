import type { Logger } from '../core/logger.js';
import { EventTimeStage, type StageEvent } from './event-time.js';
import type { Eval } from './expressions.js';
import { isConversionFailure, newEnv } from './expressions.js';
import type { WindowOperator } from './operator.js';
import type { Counters, StateBudget, Tolerances } from './tolerances.js';

/** What the engine feeds events to: one event-time stage, or one per substream. */
export interface InputStage {
  push(ev: StageEvent): void;
  advance(arrivalTime: number): void;
  flush(): void;
  watermarkDelay(): number;
  readonly currentWatermark: number;
  save(): unknown;
  load(state: unknown): void;
}

/** How far global arrival time may run ahead before silent substreams are told about it. */
const SWEEP_MS = 1000;

const ONE_PARTITION: Eval = () => '';

/**
 * Where a substream's events go: each key gets its own window operator (`perKey`: a statement
 * without GROUP BY, or one whose GROUP BY holds every OVER column), or all keys feed one operator
 * (`shared`: the GROUP BY combines keys), which then runs on the slowest key's watermark.
 */
export type SubstreamTarget = { perKey: () => WindowOperator } | { shared: WindowOperator };

interface Stream {
  stage: EventTimeStage;
  /** The key's own operator (perKey), or null (shared). */
  op: WindowOperator | null;
  /** The watermark the key's stage last reported. */
  wm: number;
}

/**
 * ASA's substreams (TIMESTAMP BY … OVER k): each k is its own timeline, with its own event-time
 * stage, so a lagging or silent device neither delays nor disturbs the others, and a device seen
 * for the first time starts its own timeline instead of being behind everyone's. This holds
 * whatever the statement groups by, and in a WITH step as in an output. Where the keys meet again
 * (one shared window operator, or the statements reading a step) they meet at the combined
 * watermark, the minimum over keys, which never goes back; a row behind it is handled there by
 * the policy (see StatementNode in engine.ts). Since a device not seen yet may still start at
 * arrival − L, the combined watermark is min(slowest key, newest arrival − L).
 * Late arrival stays global, as in ASA: every substream hears the newest arrival time (at once
 * for the one that gets the event, within SWEEP_MS for the others), which is also what lets a
 * silent substream close its windows.
 */
export class SubstreamStage implements InputStage {
  private readonly streams = new Map<string, Stream>();
  private readonly env = newEnv();
  private maxArrival = -Infinity;
  private swept = -Infinity;
  /** The combined watermark last told downstream. */
  private forwarded = -Infinity;

  constructor(
    private readonly tol: Tolerances,
    private readonly timestamp: Eval | null,
    private readonly over: Eval[],
    private readonly target: SubstreamTarget,
    /** Told the combined watermark when it rises; null when nothing downstream combines keys. */
    private readonly onCombined: ((wm: number) => void) | null,
    private readonly counters: Counters,
    private readonly budget: StateBudget,
    private readonly log: Logger | null,
  ) {}

  get currentWatermark(): number {
    let min = Infinity;
    for (const s of this.streams.values()) min = Math.min(min, s.stage.currentWatermark);
    return min === Infinity ? -Infinity : min;
  }

  push(ev: StageEvent): void {
    let key: string;
    try {
      key = this.keyOf(ev);
    } catch (err) {
      if (!isConversionFailure(err)) throw err;
      this.counters.conversionErrors++;
      return;
    }
    const s = this.streamOf(key);
    const arrival = ev.arrivalTime;
    if (typeof arrival === 'number' && arrival > this.maxArrival) this.maxArrival = arrival;
    if (s.stage.latestArrival < this.maxArrival) s.stage.advance(this.maxArrival);
    s.stage.push(ev);
    if (this.maxArrival - this.swept >= SWEEP_MS) this.sweep();
  }

  advance(arrivalTime: number): void {
    if (arrivalTime > this.maxArrival) this.maxArrival = arrivalTime;
    this.sweep();
  }

  flush(): void {
    for (const s of this.streams.values()) s.stage.flush();
    if (this.onCombined !== null && this.forwarded !== Infinity) {
      this.forwarded = Infinity;
      this.onCombined(Infinity);
    }
  }

  watermarkDelay(): number {
    let d = 0;
    for (const s of this.streams.values()) d = Math.max(d, s.stage.watermarkDelay());
    return d;
  }

  private sweep(): void {
    this.swept = this.maxArrival;
    for (const s of this.streams.values()) if (s.stage.latestArrival < this.maxArrival) s.stage.advance(this.maxArrival);
  }

  private keyOf(ev: StageEvent): string {
    this.env.row = ev;
    return this.over.length === 1 ? String(this.over[0]!(this.env)) : JSON.stringify(this.over.map((f) => f(this.env) ?? null));
  }

  private streamOf(key: string): Stream {
    let s = this.streams.get(key);
    if (s === undefined) {
      const t = this.target;
      const op = 'perKey' in t ? t.perKey() : null;
      const into = op ?? (t as { shared: WindowOperator }).shared;
      const stream: Stream = { op, wm: -Infinity, stage: null as unknown as EventTimeStage };
      const sink: WindowOperator = {
        onEvent: (row, time, seq) => into.onEvent(row, time, seq),
        onLateEvent: (row, time, seq) => into.onLateEvent(row, time, seq),
        onWatermark: (wm) => {
          if (op !== null) op.onWatermark(wm);
          const old = stream.wm;
          stream.wm = wm;
          if (this.onCombined !== null && (!(old > this.forwarded) || this.maxArrival - this.tol.lateArrivalMs > this.forwarded)) this.combine();
        },
        save: () => null,
        load: () => undefined,
      };
      stream.stage = new EventTimeStage(this.tol, this.timestamp, [ONE_PARTITION], sink, this.counters, this.budget, this.log);
      s = stream;
      this.streams.set(key, s);
    }
    return s;
  }

  /**
   * The minimum over keys — and over keys not seen yet: a device that first reports now may send
   * times down to its arrival − L (older ones are late and adjusted to that), so the combined
   * watermark stays at most L behind the newest arrival. A new device thus starts its own
   * timeline without finding the combined windows already closed.
   */
  private combine(): void {
    let min = this.maxArrival - this.tol.lateArrivalMs;
    for (const s of this.streams.values()) if (s.wm < min) min = s.wm;
    if (min > this.forwarded) {
      this.forwarded = min;
      this.onCombined!(min);
    }
  }

  save(): unknown {
    return {
      maxArrival: this.maxArrival,
      swept: this.swept,
      forwarded: this.forwarded,
      streams: [...this.streams].map(([k, s]) => [k, s.stage.save(), s.op === null ? null : s.op.save(), s.wm]),
    };
  }

  load(state: unknown): void {
    const st = state as { maxArrival: number; swept: number; forwarded?: number; streams: Array<[string, unknown, unknown, number?]> };
    this.maxArrival = st.maxArrival;
    this.swept = st.swept;
    this.forwarded = st.forwarded ?? -Infinity;
    this.streams.clear();
    for (const [key, stage, op, wm] of st.streams) {
      const s = this.streamOf(key);
      s.stage.load(stage);
      if (s.op !== null) s.op.load(op);
      s.wm = wm ?? s.stage.currentWatermark;
    }
  }
}
