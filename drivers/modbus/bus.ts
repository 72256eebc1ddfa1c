import { systemClock, type Clock, type TimerHandle } from '../../agent/core/clock.js';

export interface BusTiming {
  /** Quiet time after every request before the next one starts. */
  pauseMs: number;
  /**
   * After a request that got no reply, the line stays quiet until this long after that request
   * started (or `pauseMs` after its end, if later): a timeout longer than it costs nothing more.
   */
  quietAfterNoReplyMs: number;
  /** Whether a task's failure was a timeout (no reply). */
  isTimeout: (err: unknown) => boolean;
}

const NO_GAPS: BusTiming = { pauseMs: 0, quietAfterNoReplyMs: 0, isTimeout: () => false };

/**
 * Arbitrates one physical line (or one TCP connection) among its slaves. A serial line runs
 * one request at a time (`concurrency` 1); slaves with queued work take turns round-robin,
 * so a slave that queues many requests, or whose requests are slow, cannot starve the others:
 * every other slave gets a turn between any two of its requests.
 *
 * Between requests the line can be kept quiet (`BusTiming`): a pause after each, and a longer
 * quiet time after a request that got no reply, so that a slave still waiting for a dead
 * neighbour's reply does not take the next request for that reply. Time is the injected clock's.
 */
export class Bus {
  private readonly queues = new Map<string, Array<() => void>>();
  /** Slaves in the order they first used the bus (bounded by the number of devices). */
  private readonly order: string[] = [];
  /** Index in `order` of the slave served last. */
  private cursor = -1;
  private active = 0;
  /** Earliest time the next request may start (the end of the current quiet time). */
  private quietUntil = 0;
  private wake: TimerHandle | undefined;
  private readonly timing: BusTiming;
  private readonly clock: Clock;

  constructor(
    private readonly concurrency = 1,
    options: { timing?: BusTiming; clock?: Clock } = {},
  ) {
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new TypeError('Bus concurrency must be a positive integer');
    this.timing = options.timing ?? NO_GAPS;
    this.clock = options.clock ?? systemClock;
    if (!(this.timing.pauseMs >= 0 && this.timing.quietAfterNoReplyMs >= 0)) throw new TypeError('Bus pause and quiet times must be ≥ 0');
  }

  /** Runs `task` when it is `slave`'s turn; settles as the task does. */
  run<T>(slave: string, task: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let q = this.queues.get(slave);
      if (!q) {
        q = [];
        this.queues.set(slave, q);
        this.order.push(slave);
      }
      q.push(() => {
        const startedAt = this.clock.now();
        task()
          .then(
            (v) => {
              this.quiet(this.clock.now() + this.timing.pauseMs);
              resolve(v);
            },
            (err: unknown) => {
              const now = this.clock.now();
              this.quiet(Math.max(now + this.timing.pauseMs, this.timing.isTimeout(err) ? startedAt + this.timing.quietAfterNoReplyMs : 0));
              reject(err as Error);
            },
          )
          .finally(() => {
            this.active--;
            this.dispatch();
          });
      });
      this.dispatch();
    });
  }

  /** Requests waiting for their turn (not counting the running ones). */
  get waiting(): number {
    let n = 0;
    for (const q of this.queues.values()) n += q.length;
    return n;
  }

  private quiet(until: number): void {
    this.quietUntil = Math.max(this.quietUntil, until);
  }

  /** Ends the quiet time at once: the line is closing, and what waits should run (and fail) now. */
  release(): void {
    this.quietUntil = 0;
    if (this.wake) this.clock.clearTimeout(this.wake);
    this.wake = undefined;
    this.dispatch();
  }

  private dispatch(): void {
    const wait = this.quietUntil - this.clock.now();
    if (wait > 0) {
      if (this.waiting > 0 && !this.wake) {
        this.wake = this.clock.setTimeout(() => {
          this.wake = undefined;
          this.dispatch();
        }, wait);
      }
      return;
    }
    while (this.active < this.concurrency) {
      const next = this.takeNext();
      if (!next) return;
      this.active++;
      next();
    }
  }

  private takeNext(): (() => void) | undefined {
    // Start after the slave served last, so every slave with work gets a turn in between.
    for (let i = 1; i <= this.order.length; i++) {
      const idx = (this.cursor + i) % this.order.length;
      const job = this.queues.get(this.order[idx]!)!.shift();
      if (job) {
        this.cursor = idx;
        return job;
      }
    }
    return undefined;
  }
}
