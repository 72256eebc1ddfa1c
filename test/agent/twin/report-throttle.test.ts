import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../agent/core/clock.js';
import { silentLogger } from '../../../agent/core/logger.js';
import type { JsonObject } from '../../../agent/config/overlay.js';
import { ReportThrottle } from '../../../agent/twin/report-throttle.js';

function setup(fail = () => false) {
  const clock = new ManualClock(0);
  const sent: Array<{ at: number; patch: JsonObject }> = [];
  const throttle = new ReportThrottle({
    minIntervalMs: 1000,
    clock,
    logger: silentLogger,
    send: async (patch) => {
      if (fail()) throw new Error('429');
      sent.push({ at: clock.now(), patch });
    },
  });
  return { clock, sent, throttle };
}

/** Lets the throttle's awaited send settle. */
const settle = () => new Promise<void>((r) => setImmediate(r));

describe('ReportThrottle', () => {
  it('sends at most one update per interval, merging what came in between (later wins, deletes kept)', async () => {
    const { clock, sent, throttle } = setup();
    throttle.setOnline(true);
    throttle.push({ a: 1, n: { x: 1 } });
    clock.advance(0);
    await settle();
    for (let i = 0; i < 50; i++) throttle.push({ b: i, n: { y: i } });
    throttle.push({ a: null });
    clock.advance(999);
    await settle();
    expect(sent.length).toBe(1);
    clock.advance(1);
    await settle();
    expect(sent).toEqual([
      { at: 0, patch: { a: 1, n: { x: 1 } } },
      { at: 1000, patch: { b: 49, n: { y: 49 }, a: null } },
    ]);
  });

  it('holds everything while offline and keeps a failed update for the next try', async () => {
    let failing = true;
    const { clock, sent, throttle } = setup(() => failing);
    throttle.push({ a: 1 });
    clock.advance(5000);
    await settle();
    expect(sent).toEqual([]);
    throttle.setOnline(true);
    clock.advance(0);
    await settle(); // first attempt fails
    throttle.push({ b: 2 });
    failing = false;
    clock.advance(1000);
    await settle();
    expect(sent).toEqual([{ at: 6000, patch: { a: 1, b: 2 } }]);
    expect(throttle.sent).toBe(1);
  });
});
