import type { Reading } from './reading.js';

/**
 * Receives readings from a driver. The promise resolves only once the readings are durable in
 * the journal: that is the moment they count as acknowledged, and a driver must not treat
 * them as delivered before. A rejection means they were not accepted; the driver keeps or
 * re-reads them (backpressure: a driver awaits its sink before it polls again), except for
 * EDGE_READING_INVALID: the batch held no reading the journal may take, and the same readings
 * would be refused again, so the driver drops them. Invalid readings beside valid ones are
 * filtered out and counted by the agent; the call then resolves.
 */
export type ReadingSink = (readings: Reading[]) => Promise<void>;

export type DriverState = 'starting' | 'running' | 'degraded' | 'stopped' | 'failed';

export interface DriverHealth {
  state: DriverState;
  /** Per slave / sensor figures a technician needs: request and error counters, last error. */
  sources: Record<string, SourceHealth>;
}

export interface SourceHealth {
  state: 'ok' | 'backoff' | 'down' | 'unknown';
  polls: number;
  errors: number;
  errorsByCode: Record<string, number>;
  lastError?: { code: string; message: string; at: number };
  lastGoodAt?: number;
  /** Lines heard and left out on purpose, by name (an NMEA address), and why: why no point came. */
  skipped?: { lines: Record<string, number>; because: string };
}

/**
 * A source of readings. Implementations live in `drivers/`; the agent only sees this face.
 * `start` resolves once the driver is running (ports open or being retried in the background);
 * hardware faults after that become bad-quality readings and health counters, never throws.
 */
export interface Driver {
  readonly name: string;
  start(sink: ReadingSink): Promise<void>;
  /** Stops polling and resolves after the last in-flight sink call has settled. */
  stop(): Promise<void>;
  health(): DriverHealth;
}
