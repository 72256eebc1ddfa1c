import type { ManualClock } from '../../../../agent/core/clock.js';
import type { Reconciler } from '../../../../cloud/reconciler/reconciler.js';

/**
 * Runs passes until the source is drained and no gap is open, moving the manual clock past the
 * resend grace period between passes. Bounded: a reconciler that never settles fails the test.
 */
export async function settle(reconciler: Reconciler, clock: ManualClock, stepMs: number, maxPasses = 50): Promise<number> {
  for (let pass = 1; pass <= maxPasses; pass++) {
    const s = await reconciler.runOnce();
    if (s.events === 0 && s.resendRequests === 0 && reconciler.openGaps === 0) return pass;
    clock.advance(stepMs);
  }
  throw new Error(`reconciler did not settle in ${maxPasses} passes (${reconciler.openGaps} gaps open)`);
}
