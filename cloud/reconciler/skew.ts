import type { WireRecord } from '../../agent/core/wire.js';

/**
 * Clock-skew detection. A device stamps application times with its own clock; the hub stamps
 * enqueued times with its. Application time can legitimately lag (buffering, outages) but can
 * only run *ahead* of the enqueued time if the device clock is wrong, so only "ahead" counts.
 */
export const DEFAULT_SKEW_THRESHOLD_MS = 5 * 60_000;

/** How far the message's latest application time runs ahead of when the hub stored it (≤ 0 = not ahead). */
export function clockAheadMs(records: readonly WireRecord[], enqueuedTime: number): number {
  let maxT = -Infinity;
  for (const r of records) if (r.t > maxT) maxT = r.t;
  return maxT === -Infinity ? 0 : Math.max(0, maxT - enqueuedTime);
}

export function isSkewed(aheadMs: number, thresholdMs: number): boolean {
  return aheadMs > thresholdMs;
}
