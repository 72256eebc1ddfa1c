import type { Logger } from '../core/logger.js';
import { EventTimeStage, type StageEvent } from './event-time.js';
import type { Eval } from './expressions.js';
import { newEnv } from './expressions.js';
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
 * ASA's substreams (TIMESTAMP BY … OVER k, when GROUP BY includes k): each k is its own
 * timeline, with its own event-time stage and its own window operators, so its windows close on
 * its own watermark — a lagging or silent device neither delays nor disturbs the others, and a
 * device seen for the first time starts its own timeline instead of being behind everyone's.
 * Late arrival stays global, as in ASA: every substream hears the newest arrival time (at once
 * for the one that gets the event, within SWEEP_MS for the others), which is also what lets a
 * silent substream close its windows.
 */
export class SubstreamStage implements InputStage {
  private readonly streams = new Map<string, { stage: EventTimeStage; op: WindowOperator }>();
  private readonly env = newEnv();
  private maxArrival = -Infinity;
  private swept = -Infinity;

  constructor(
    private readonly tol: Tolerances,
    private readonly timestamp: Eval | null,
    private readonly over: Eval[],
    private readonly makeOperator: () => WindowOperator,
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
    const s = this.streamOf(this.keyOf(ev));
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

  private streamOf(key: string): { stage: EventTimeStage; op: WindowOperator } {
    let s = this.streams.get(key);
    if (s === undefined) {
      const op = this.makeOperator();
      s = { op, stage: new EventTimeStage(this.tol, this.timestamp, [ONE_PARTITION], op, this.counters, this.budget, this.log) };
      this.streams.set(key, s);
    }
    return s;
  }

  save(): unknown {
    return { maxArrival: this.maxArrival, swept: this.swept, streams: [...this.streams].map(([k, s]) => [k, s.stage.save(), s.op.save()]) };
  }

  load(state: unknown): void {
    const st = state as { maxArrival: number; swept: number; streams: Array<[string, unknown, unknown]> };
    this.maxArrival = st.maxArrival;
    this.swept = st.swept;
    this.streams.clear();
    for (const [key, stage, op] of st.streams) {
      const s = this.streamOf(key);
      s.stage.load(stage);
      s.op.load(op);
    }
  }
}
