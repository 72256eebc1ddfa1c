import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../agent/core/clock.js';
import { Bus } from '../../../drivers/modbus/bus.js';
import { CircuitBreaker } from '../../../drivers/modbus/circuit-breaker.js';
import { deferred } from '../support/events.js';

describe('Bus', () => {
  it('runs one task at a time and takes slaves in turn (round-robin)', async () => {
    const bus = new Bus(1);
    const order: string[] = [];
    let running = 0;
    let maxRunning = 0;
    const task = (name: string) => async () => {
      running++;
      maxRunning = Math.max(maxRunning, running);
      order.push(name);
      await Promise.resolve();
      running--;
    };
    await Promise.all([
      bus.run('a', task('a1')),
      bus.run('a', task('a2')),
      bus.run('a', task('a3')),
      bus.run('b', task('b1')),
      bus.run('c', task('c1')),
      bus.run('c', task('c2')),
    ]);
    expect(maxRunning).toBe(1);
    expect(order).toEqual(['a1', 'b1', 'c1', 'a2', 'c2', 'a3']);
  });

  it('lets a slow slave hold the line only for its own turn', async () => {
    const bus = new Bus(1);
    const slow = deferred();
    const done: string[] = [];
    const s = bus.run('slow', () => slow.promise).then(() => done.push('slow'));
    const f = bus.run('fast', async () => void done.push('fast'));
    const s2 = bus.run('slow', async () => void done.push('slow2'));
    slow.resolve();
    await Promise.all([s, f, s2]);
    expect(done).toEqual(['slow', 'fast', 'slow2']);
  });

  it('runs up to its concurrency at once (TCP per-device limit) and passes failures through', async () => {
    const bus = new Bus(2);
    let running = 0;
    let max = 0;
    const gate = deferred();
    const jobs = Array.from({ length: 5 }, () =>
      bus.run('d', async () => {
        running++;
        max = Math.max(max, running);
        await gate.promise;
        running--;
      }),
    );
    gate.resolve();
    await Promise.all(jobs);
    expect(max).toBe(2);
    await expect(bus.run('d', () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
  });
});

describe('CircuitBreaker', () => {
  it('opens after the threshold, probes once when the backoff ends, doubles on a failed probe', () => {
    const clock = new ManualClock(0);
    const b = new CircuitBreaker({ failureThreshold: 2, baseBackoffMs: 100, maxBackoffMs: 250, clock });
    expect(b.tryAcquire()).toBe(true);
    b.failure();
    expect(b.state()).toBe('closed');
    b.failure();
    expect(b.state()).toBe('open');
    expect(b.tryAcquire()).toBe(false);
    clock.advance(100);
    expect(b.state()).toBe('half-open');
    expect(b.tryAcquire()).toBe(true);
    expect(b.tryAcquire()).toBe(false); // only one probe
    b.failure();
    expect(b.retryAt).toBe(300); // 200 ms
    clock.advance(200);
    expect(b.tryAcquire()).toBe(true);
    b.failure();
    expect(b.retryAt).toBe(300 + 250); // capped
    clock.advance(250);
    expect(b.tryAcquire()).toBe(true);
    b.success();
    expect(b.state()).toBe('closed');
    b.failure();
    expect(b.state()).toBe('closed');
  });
});
