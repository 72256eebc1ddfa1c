import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../agent/core/clock.js';
import { Signal, waitAny } from '../../../agent/core/signal.js';

describe('Signal', () => {
  it('remembers a notify that came before the wait', async () => {
    const s = new Signal();
    s.notify();
    await s.wait();
    let woke = false;
    void s.wait().then(() => (woke = true));
    await Promise.resolve();
    expect(woke).toBe(false); // the remembered notify was taken once
  });

  it('is not swallowed by a wait that ended by timeout (no stale waiters)', async () => {
    const clock = new ManualClock(0);
    const a = new Signal();
    const b = new Signal();
    const timedOut = waitAny([a, b], { clock, ms: 10 });
    clock.advance(10);
    await timedOut;
    // Nobody waits now: the notify must be remembered for the next waiter.
    a.notify();
    let woke = false;
    const next = a.wait().then(() => (woke = true));
    await next;
    expect(woke).toBe(true);
  });

  it('wakes every current waiter', async () => {
    const s = new Signal();
    const woke: number[] = [];
    const all = Promise.all([s.wait().then(() => woke.push(1)), waitAny([s, new Signal()]).then(() => woke.push(2))]);
    s.notify();
    await all;
    expect(woke.sort()).toEqual([1, 2]);
  });
});
