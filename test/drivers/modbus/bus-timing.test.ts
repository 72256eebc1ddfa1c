import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../agent/core/clock.js';
import { Bus } from '../../../drivers/modbus/bus.js';

/** Lets promise chains run (no time passes: the clock is manual). */
async function flush(): Promise<void> {
  for (let i = 0; i < 10; i++) await new Promise<void>((r) => setImmediate(r));
}

class NoReply extends Error {
  readonly timeout = true;
}

/** A bus whose tasks take `ms` on the manual clock and then answer, or time out. */
function timedBus(pauseMs: number, quietAfterNoReplyMs: number) {
  const clock = new ManualClock(0);
  const bus = new Bus(1, { clock, timing: { pauseMs, quietAfterNoReplyMs, isTimeout: (e) => e instanceof NoReply } });
  const started: Array<[string, number]> = [];
  const task = (name: string, ms: number, answers: boolean) => () => {
    started.push([name, clock.now()]);
    return new Promise<void>((resolve, reject) => clock.setTimeout(() => (answers ? resolve() : reject(new NoReply(name))), ms));
  };
  const runFor = async (ms: number, step = 10) => {
    for (let t = 0; t < ms; t += step) {
      clock.advance(step);
      await flush();
    }
  };
  return { clock, bus, started, task, runFor };
}

describe('Bus quiet times (pause between requests, quiet after no reply)', () => {
  it('after a 300 ms timeout keeps the line quiet until 600 ms after that request started', async () => {
    const { bus, started, task, runFor } = timedBus(0, 600);
    const dead = bus.run('dead', task('dead', 300, false)).catch((e: unknown) => e);
    const live = bus.run('live', task('live', 20, true));
    const live2 = bus.run('live', task('live2', 20, true));
    await runFor(1000);
    await Promise.all([dead, live, live2]);
    // live2 follows live at once: only a request without a reply makes the line go quiet.
    expect(started).toEqual([['dead', 0], ['live', 600], ['live2', 620]]);
  });

  it('a timeout longer than the quiet time costs nothing more; the pause applies after every request', async () => {
    const { bus, started, task, runFor } = timedBus(50, 600);
    const jobs = [bus.run('dead', task('dead', 1000, false)).catch(() => undefined), bus.run('a', task('a', 20, true)), bus.run('b', task('b', 20, true))];
    await runFor(1500);
    await Promise.all(jobs);
    expect(started).toEqual([['dead', 0], ['a', 1050], ['b', 1120]]);
  });

  it('release() ends a quiet time at once (a closing line runs what waits)', async () => {
    const { bus, started, task, runFor } = timedBus(0, 5000);
    const dead = bus.run('dead', task('dead', 100, false)).catch(() => undefined);
    const next = bus.run('live', task('live', 10, true));
    await runFor(200);
    expect(started).toHaveLength(1);
    bus.release();
    await runFor(20);
    await Promise.all([dead, next]);
    expect(started).toEqual([['dead', 0], ['live', 200]]);
  });
});
