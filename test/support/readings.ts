import type { StampedReading } from '../../agent/core/reading.js';

export function stamped(i: number, overrides: Partial<StampedReading> = {}): StampedReading {
  return {
    source: 'dev-1',
    point: `p${i % 7}`,
    value: i * 1.5,
    quality: 'good',
    receivedAt: 1_700_000_000_000 + i,
    appTime: 1_700_000_000_000 + i,
    arrivalTime: 1_700_000_000_100 + i,
    ...overrides,
  };
}
