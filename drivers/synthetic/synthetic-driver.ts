import type { Clock, TimerHandle } from '../../agent/core/clock.js';
import type { Driver, DriverHealth, ReadingSink } from '../../agent/core/driver.js';
import type { Reading } from '../../agent/core/reading.js';
import type { SyntheticDriverSettings } from './config.js';
import { DriftSignal } from './drift-signal.js';

export interface SyntheticDriverOptions extends SyntheticDriverSettings {
  clock: Clock;
}

/**
 * An in-process source of sine-shaped (or drifting, plant-like) readings, for wiring tests and benchmarks that need a
 * steady stream without any protocol. Field-like demos use the protocol simulators instead.
 */
export class SyntheticDriver implements Driver {
  readonly name: string;
  private timer: TimerHandle | undefined;
  private running = false;
  private inFlight: Promise<void> = Promise.resolve();
  private polls = 0;
  private errors = 0;
  private lastError: { code: string; message: string; at: number } | undefined;
  /** When the next poll is due: a fixed grid from the start, as the Modbus driver keeps. */
  private nextAt = 0;
  /** Per point (by index), the drifting signal's state; absent for a sine. */
  private readonly drifts: Array<DriftSignal | undefined>;

  constructor(private readonly options: SyntheticDriverOptions) {
    if (options.intervalMs <= 0) throw new TypeError('intervalMs must be positive');
    this.name = options.name;
    this.drifts = options.points.map((p) => (p.signal === 'drift' ? new DriftSignal(p, options.source) : undefined));
  }

  async start(sink: ReadingSink): Promise<void> {
    if (this.running) throw new TypeError(`driver ${this.name} is already started`);
    this.running = true;
    this.nextAt = this.options.clock.now();
    this.schedule(sink, 0);
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) this.options.clock.clearTimeout(this.timer);
    await this.inFlight;
  }

  health(): DriverHealth {
    return {
      state: this.running ? 'running' : 'stopped',
      sources: {
        [this.options.source]: {
          state: this.errors > 0 && this.lastError ? 'backoff' : 'ok',
          polls: this.polls,
          errors: this.errors,
          errorsByCode: this.lastError ? { [this.lastError.code]: this.errors } : {},
          ...(this.lastError ? { lastError: this.lastError } : {}),
        },
      },
    };
  }

  private schedule(sink: ReadingSink, delay: number): void {
    this.timer = this.options.clock.setTimeout(() => {
      this.inFlight = this.poll(sink);
    }, delay);
  }

  private async poll(sink: ReadingSink): Promise<void> {
    if (!this.running) return;
    const { clock, points, source, intervalMs } = this.options;
    const started = clock.now();
    const readings: Reading[] = points.map((p, i) => ({
      source,
      point: p.name,
      value: this.drifts[i]?.next() ?? (p.offset ?? 0) + (p.amplitude ?? 1) * Math.sin((2 * Math.PI * started) / (p.periodMs ?? 60_000)),
      quality: 'good',
      receivedAt: started,
      ...(p.unit ? { unit: p.unit } : {}),
    }));
    this.polls++;
    try {
      // Backpressure: the next poll is scheduled only after the journal has the readings.
      await sink(readings);
    } catch (err) {
      this.errors++;
      this.lastError = { code: 'EDGE_BUFFER_FULL', message: err instanceof Error ? err.message : String(err), at: clock.now() };
    }
    if (!this.running) return;
    // On the grid, not `intervalMs` after this poll began: a timer that fires late (a busy event
    // loop) would otherwise push every later poll back, and 1 Hz became 0.97 Hz at 5,000 points.
    const now = clock.now();
    this.nextAt += intervalMs;
    if (now - this.nextAt > 2 * intervalMs) this.nextAt = now; // far behind: the missed polls are skipped
    this.schedule(sink, Math.max(0, this.nextAt - now));
  }
}
