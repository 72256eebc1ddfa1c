import type { Clock } from '../core/clock.js';
import type { Reading, StampedReading } from '../core/reading.js';

/**
 * Fixes both times of DESIGN §4. Application time is the device's own stamp when it gives one
 * (already corrected by its clock offset in the driver), else the instant the driver received
 * the reply. Arrival time is this stage's clock, read once per batch: the batch arrived together.
 * Both are whole milliseconds, as the wire and the reconciler's tables have them: a device stamp
 * in seconds with four decimals (1700000000.1234 s) must not become a record the cloud refuses.
 */
export function stampReadings(readings: Reading[], clock: Clock, driver?: string): StampedReading[] {
  const arrivalTime = Math.round(clock.now());
  return readings.map((r) => ({ ...r, appTime: Math.round(r.deviceTime ?? r.receivedAt), arrivalTime, ...(driver !== undefined ? { driver } : {}) }));
}
