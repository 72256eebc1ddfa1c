import { describe, expect, it } from 'vitest';
import { EventLoopDelay } from '../../../agent/diagnostics/event-loop.js';

/** Turns of the event loop until `done()` holds, at most `ms` of wall time. */
async function until(done: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!done()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setImmediate(r));
  }
}

function block(ms: number): void {
  const end = Date.now() + ms;
  while (Date.now() < end);
}

describe('EventLoopDelay: how late the event loop runs, as status shows it', () => {
  it('a 300 ms block shows as a max of at least 250 ms, since start until the first window ends', async () => {
    const d = new EventLoopDelay(60_000);
    try {
      await until(() => d.sampling); // a block before its first callback would go unseen
      block(300);
      // The monitor's own timer samples once the loop is free again.
      await until(() => d.figures().maxMs >= 250);
      const f = d.figures();
      expect(f.maxMs).toBeLessThan(5000);
      expect(f.p99Ms).toBeLessThanOrEqual(f.maxMs);
      expect(f.overMs).toBeLessThan(60_000);
    } finally {
      d.stop();
    }
  });

  it('after a window ends, the figures are that window\'s: a block in it stays visible, and a quiet one clears it', async () => {
    const d = new EventLoopDelay(400);
    try {
      await until(() => d.sampling); // a block before its first callback would go unseen
      block(300);
      await until(() => d.figures().overMs === 400);
      expect(d.figures().maxMs).toBeGreaterThanOrEqual(250);
      // The next window has no block.
      await until(() => d.figures().overMs === 400 && d.figures().maxMs < 250);
    } finally {
      d.stop();
    }
  });
});
