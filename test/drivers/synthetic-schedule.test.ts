import { describe, expect, it } from 'vitest';
import { ManualClock, type Clock } from '../../agent/core/clock.js';
import type { Reading } from '../../agent/core/reading.js';
import { SyntheticDriver } from '../../drivers/synthetic/synthetic-driver.js';

/** A clock whose timers fire `lateMs` after they are due, as on a busy event loop. */
function lateClock(inner: ManualClock, lateMs: number): Clock {
  return { now: () => inner.now(), setTimeout: (fn, ms) => inner.setTimeout(fn, ms + lateMs), clearTimeout: (h) => inner.clearTimeout(h) };
}

async function pollsIn(seconds: number, lateMs: number, stallMs = 0): Promise<number[]> {
  const manual = new ManualClock(0);
  const clock = lateClock(manual, lateMs);
  const times: number[] = [];
  const driver = new SyntheticDriver({ name: 's', source: 'sim', intervalMs: 1000, points: [{ name: 'p' }], clock });
  await driver.start(async (readings: Reading[]) => {
    times.push(readings[0]!.receivedAt);
    // The first journal write stalls this long (the clock moves on while the sink works; after
    // an await, so not inside the clock's own loop of due timers).
    if (stallMs > 0 && times.length === 1) {
      await Promise.resolve();
      manual.advance(stallMs);
    }
  });
  // 10 ms steps, letting each poll's await settle before time moves on.
  for (let t = 0; t < seconds * 1000; t += 10) {
    manual.advance(10);
    await new Promise((r) => setImmediate(r));
  }
  await driver.stop();
  return times;
}

describe('synthetic driver: polls keep their rate', () => {
  it('timers that fire 30 ms late do not push later polls back: 100 polls in 100 s, each within 30 ms of its slot', async () => {
    const times = await pollsIn(100, 30);
    expect(times).toHaveLength(100);
    times.forEach((t, i) => expect(t - i * 1000).toBeLessThanOrEqual(30));
  });

  it('after a stalled sink the missed polls are skipped, not fired in a burst', async () => {
    const times = await pollsIn(20, 0, 5000);
    // Stalled for 5 s: the next poll comes at once, then one a second again.
    expect(times[1]! - times[0]!).toBeGreaterThanOrEqual(5000);
    expect([times[2]! - times[1]!, times[3]! - times[2]!]).toEqual([1000, 1000]);
    for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBeGreaterThanOrEqual(1000);
  });
});
