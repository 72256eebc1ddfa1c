import { Backoff } from '../agent/core/backoff.js';

/**
 * core's `Backoff` with its jitter fixed at the ceiling: `initialMs`, twice that, four times…
 * up to `maxMs`. Jitter keeps a fleet from reconnecting to one hub in lockstep; a driver's
 * reopen and breaker delays are one box's dealings with its own line, where an exact delay is
 * what the README promises ("doubling to maxBackoffMs"), what a bad reading reports ("next try
 * in N ms") and what the ManualClock tests pin.
 */
export function doublingBackoff(initialMs: number, maxMs: number): Backoff {
  return new Backoff(initialMs, maxMs, () => 1);
}
