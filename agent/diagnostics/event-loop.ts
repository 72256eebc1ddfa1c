import { monitorEventLoopDelay } from 'node:perf_hooks';

/** How late the event loop ran its callbacks: a driver's poll, a PUBACK, a status answer. */
export interface EventLoopFigures {
  p99Ms: number;
  maxMs: number;
  /** The span these figures cover: the last whole minute, or since start before the first. */
  overMs: number;
}

const WINDOW_MS = 60_000;
/** The monitor's own timer period; each sample is the time between two of its callbacks. */
const RESOLUTION_MS = 20;

/**
 * The event loop's delay over the last whole minute, from libuv's own timer (wall time, not the
 * agent's clock: this is how the process runs, not application time). A poll due every second
 * runs this late: a technician sees it in `status` before the readings thin out.
 */
export class EventLoopDelay {
  private readonly histogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  private last: EventLoopFigures | undefined;
  private readonly startedAt = Date.now();
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly windowMs = WINDOW_MS) {
    this.histogram.enable();
    this.timer = setInterval(() => {
      this.last = this.read(this.windowMs);
      this.histogram.reset();
    }, windowMs);
    // Never what keeps a stopping process alive.
    this.timer.unref();
  }

  figures(): EventLoopFigures {
    return this.last ?? this.read(Date.now() - this.startedAt);
  }

  /** Whether the monitor has taken a sample in the current window (it measures from its first callback on). */
  get sampling(): boolean {
    return this.histogram.count > 0;
  }

  stop(): void {
    clearInterval(this.timer);
    this.histogram.disable();
  }

  private read(overMs: number): EventLoopFigures {
    const h = this.histogram;
    // A sample is the gap between two of the monitor's callbacks: its lateness is the gap less the
    // period. An empty histogram (no sample yet) reports NaN or 0.
    const ms = (ns: number) => (Number.isFinite(ns) && ns > 0 ? Math.max(0, Math.round(ns / 1e5) / 10 - RESOLUTION_MS) : 0);
    return { p99Ms: ms(h.percentile(99)), maxMs: ms(h.max), overMs };
  }
}
