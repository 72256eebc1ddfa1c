import type { Backoff } from '../../agent/core/backoff.js';
import type { Clock } from '../../agent/core/clock.js';
import { doublingBackoff } from '../backoff.js';

export type BreakerState = 'closed' | 'open' | 'half-open';

export interface BreakerOptions {
  /** Consecutive failures that open the breaker. */
  failureThreshold: number;
  /** First backoff; doubles at every failed probe up to `maxBackoffMs`. */
  baseBackoffMs: number;
  maxBackoffMs: number;
  clock: Clock;
}

/**
 * One per slave. Closed: requests flow. After `failureThreshold` consecutive failures it
 * opens and refuses requests for a backoff period, so a dead slave stops costing bus time;
 * then it lets exactly one probe through (half-open). A good probe closes it, a failed one
 * reopens it with twice the backoff.
 */
export class CircuitBreaker {
  private failures = 0;
  private openUntil = 0;
  private probing = false;
  /** Its failure count is the number of opens since the last success. */
  private readonly backoff: Backoff;

  constructor(private readonly options: BreakerOptions) {
    this.backoff = doublingBackoff(options.baseBackoffMs, options.maxBackoffMs);
  }

  state(): BreakerState {
    if (this.backoff.consecutiveFailures === 0) return 'closed';
    return this.options.clock.now() >= this.openUntil ? 'half-open' : 'open';
  }

  /** Epoch ms at which an open breaker lets its next probe through. */
  get retryAt(): number {
    return this.openUntil;
  }

  /** Asks to send a request; in half-open state only the first caller gets a yes. */
  tryAcquire(): boolean {
    const s = this.state();
    if (s === 'closed') return true;
    if (s === 'open' || this.probing) return false;
    this.probing = true;
    return true;
  }

  success(): void {
    this.failures = 0;
    this.backoff.reset();
    this.probing = false;
  }

  failure(): void {
    this.failures++;
    const wasProbe = this.probing;
    this.probing = false;
    if (wasProbe || this.failures >= this.options.failureThreshold) {
      this.openUntil = this.options.clock.now() + this.backoff.next();
    }
  }
}
