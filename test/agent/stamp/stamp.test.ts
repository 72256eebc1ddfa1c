import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../agent/core/clock.js';
import type { Reading } from '../../../agent/core/reading.js';
import { stampReadings } from '../../../agent/stamp/stamp.js';

const reading = (patch: Partial<Reading>): Reading => ({ source: 's', point: 'p', value: 1, quality: 'good', receivedAt: 1_700_000_000_500, ...patch });

describe('stampReadings', () => {
  it('application time: the device stamp when given, else receivedAt; arrival time: the clock, once per batch', () => {
    const [a, b] = stampReadings([reading({ deviceTime: 1_700_000_000_000 }), reading({})], new ManualClock(1_700_000_001_000));
    expect([a!.appTime, a!.arrivalTime, b!.appTime, b!.arrivalTime]).toEqual([1_700_000_000_000, 1_700_000_001_000, 1_700_000_000_500, 1_700_000_001_000]);
  });

  it('rounds both to whole milliseconds: the reconciler refuses a record with a fractional time', () => {
    // 1700000000.1234 s from a serial sensor, times 1000.
    const deviceTime = Number('1700000000.1234') * 1000;
    expect(Number.isInteger(deviceTime)).toBe(false);
    const [a, b] = stampReadings([reading({ deviceTime }), reading({ receivedAt: 1_700_000_000_000.6 })], new ManualClock(1_700_000_001_000.4));
    expect([a!.appTime, b!.appTime, a!.arrivalTime]).toEqual([1_700_000_000_123, 1_700_000_000_001, 1_700_000_001_000]);
    // The reading itself keeps what the driver said.
    expect(a!.deviceTime).toBe(deviceTime);
  });

  it('records the driver that read the batch, when told, so an input can select by driver', () => {
    const [a] = stampReadings([reading({})], new ManualClock(0), 'boiler-bus');
    const [b] = stampReadings([reading({})], new ManualClock(0));
    expect(a!.driver).toBe('boiler-bus');
    expect(b).not.toHaveProperty('driver');
  });
});
