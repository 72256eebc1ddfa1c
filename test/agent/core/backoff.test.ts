import { describe, expect, it } from 'vitest';
import { Backoff } from '../../../agent/core/backoff.js';

describe('Backoff', () => {
  it('doubles its ceiling per failure up to the maximum, and resets', () => {
    const top = new Backoff(100, 1000, () => 1);
    expect([top.next(), top.next(), top.next(), top.next(), top.next()]).toEqual([100, 200, 400, 800, 1000]);
    top.reset();
    expect(top.next()).toBe(100);
  });

  it('draws uniformly below the ceiling (full jitter)', () => {
    const half = new Backoff(100, 1000, () => 0.5);
    expect([half.next(), half.next(), half.next()]).toEqual([50, 100, 200]);
    expect(new Backoff(100, 1000, () => 0).next()).toBe(0);
  });
});
