import type { Clock } from '../core/clock.js';
import type { AgentStats } from '../core/agent-stats.js';

/**
 * Decides whether the pipeline is healthy enough to feed the watchdog. What a restart can fix
 * counts; what it cannot does not: a hub that is down or a sensor that does not answer is the
 * buffer's and the driver's business, never a reason to restart. A pipeline that holds work in
 * the journal and has not moved it for `stallMs` is stuck (a wedged store, a hung stage), and
 * a blocked event loop never gets here at all (no feed either).
 */
export class PipelineHealth {
  private lastProcessed = -1;
  private lastMoveAt: number;

  constructor(
    private readonly stats: () => Pick<AgentStats, 'readings' | 'journalBacklog'> & Partial<Pick<AgentStats, 'storeFault'>>,
    private readonly clock: Clock,
    private readonly stallMs = 60_000,
  ) {
    this.lastMoveAt = clock.now();
  }

  check(): { healthy: boolean; reason?: string; restartHelps?: boolean } {
    const s = this.stats();
    const now = this.clock.now();
    // A full disk or a store being replaced is unhealthy, but the agent heals it itself and a
    // restart would not: say so, and keep the watchdog fed.
    if (s.storeFault) {
      this.lastMoveAt = now;
      return { healthy: false, reason: s.storeFault.message, restartHelps: false };
    }
    const processed = s.readings - s.journalBacklog;
    if (processed !== this.lastProcessed || s.journalBacklog === 0) {
      this.lastProcessed = processed;
      this.lastMoveAt = now;
      return { healthy: true };
    }
    const stalled = now - this.lastMoveAt;
    if (stalled < this.stallMs) return { healthy: true };
    return { healthy: false, reason: `the pipeline has held ${s.journalBacklog} journaled readings without progress for ${Math.round(stalled / 1000)} s` };
  }
}
