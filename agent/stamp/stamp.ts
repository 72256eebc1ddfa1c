import type { Clock } from '../core/clock.js';
import type { Reading, StampedReading } from '../core/reading.js';

/**
 * Fixes both times of DESIGN §4. Application time is the device's own stamp when it gives one
 * (already corrected by its clock offset in the driver), else the instant the driver received
 * the reply. Arrival time is this stage's clock, read once per batch: the batch arrived together.
 */
export function stampReadings(readings: Reading[], clock: Clock): StampedReading[] {
  const arrivalTime = clock.now();
  return readings.map((r) => ({ ...r, appTime: r.deviceTime ?? r.receivedAt, arrivalTime }));
}
