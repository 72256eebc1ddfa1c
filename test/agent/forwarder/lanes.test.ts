import { describe, expect, it } from 'vitest';
import { Lanes } from '../../../agent/forwarder/lanes.js';

describe('Lanes (live-first)', () => {
  it('splits messages by the backlog share while both lanes have data', () => {
    const lanes = new Lanes(0.25);
    lanes.restart(1001);
    expect([lanes.liveFrom, lanes.liveCursor, lanes.backlogCursor]).toEqual([1001, 1000, 0]);
    expect(lanes.pick()).toBe('live'); // fresh data goes first
    const picks: string[] = [];
    let live = 1000;
    let backlog = 0;
    for (let i = 0; i < 100; i++) {
      const lane = lanes.pick();
      picks.push(lane);
      if (lane === 'live') lanes.sent(lane, (live += 10));
      else lanes.sent(lane, (backlog += 10));
    }
    const share = picks.filter((p) => p === 'backlog').length / picks.length;
    expect(share).toBeGreaterThanOrEqual(0.24);
    expect(share).toBeLessThanOrEqual(0.26);
    expect(lanes.liveCursor).toBe(live);
    expect(lanes.backlogCursor).toBe(backlog);
  });

  it('refuses a share outside (0, 1]', () => {
    expect(() => new Lanes(0)).toThrow(TypeError);
    expect(() => new Lanes(1.5)).toThrow(TypeError);
  });
});
