import type { StampedReading } from '../core/reading.js';
import type { ResultRecord } from '../core/wire.js';
import type { AnalyticsEvent, ResultRow } from './engine.js';

/**
 * A StampedReading already is an analytics event (source, point, value, quality, appTime,
 * arrivalTime, …, with `error.code` readable as a nested field); this only narrows the type, so
 * the spine pays no copy per reading.
 */
export function eventFromReading(reading: StampedReading): AnalyticsEvent {
  return reading as unknown as AnalyticsEvent;
}

/** A result row in the wire's shape (DESIGN §6), minus `seq`, which the outbox assigns. */
export function toResultRecord(r: ResultRow): Omit<ResultRecord, 'seq'> {
  return { kind: 'result', t: r.windowEnd, query: r.query, out: r.output, ws: r.windowStart, we: r.windowEnd, key: r.key, rev: r.rev, row: wireRow(r.row) };
}

/** Datetimes go on the wire as epoch ms, like every other time there. */
function wireRow(row: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k in row) out[k] = wireValue(row[k]);
  return out;
}

function wireValue(v: unknown): unknown {
  if (v instanceof Date) return v.getTime();
  if (Array.isArray(v)) return v.map(wireValue);
  if (v !== null && typeof v === 'object') return wireRow(v as Record<string, unknown>);
  return v;
}
