import type { DiagnosticsContext } from '../context.js';
import type { PointValue, Quality } from '../../core/reading.js';
import type { WriteRecord } from '../../core/point-write.js';

export interface SensorRow {
  source: string;
  point: string;
  value: PointValue;
  unit?: string;
  quality: Quality;
  error?: { code: string; message: string };
  /** Since the driver received it. */
  ageMs: number;
  receivedAt: number;
}

/** The last write of one point (direct method `writePoint`), with its age. */
export interface WriteRow extends WriteRecord {
  ageMs: number;
}

export interface SkippedRow {
  driver: string;
  source: string;
  /** Lines left out, by name (an NMEA address), and why. */
  lines: Record<string, number>;
  because: string;
  /** Whether the source ever yielded a good reading. */
  everGood: boolean;
}

/**
 * `edge-agent sensors`: the latest value of every point, with quality and age, the last write of
 * each written point, and per source the lines it heard and skipped (a sensor with no point shows why).
 */
export function sensors(ctx: DiagnosticsContext): Promise<{ now: number; points: SensorRow[]; writes: WriteRow[]; skipped: SkippedRow[] }> {
  const now = ctx.clock.now();
  const points = ctx.agent
    .latestReadings()
    .map((r) => ({
      source: r.source,
      point: r.point,
      value: r.value,
      ...(r.unit !== undefined ? { unit: r.unit } : {}),
      quality: r.quality,
      ...(r.error ? { error: r.error } : {}),
      ageMs: Math.max(0, now - r.receivedAt),
      receivedAt: r.receivedAt,
    }))
    .sort((a, b) => a.source.localeCompare(b.source) || a.point.localeCompare(b.point));
  const writes = (ctx.agent.lastWrites?.() ?? [])
    .map((w) => ({ ...w, ageMs: Math.max(0, now - w.at) }))
    .sort((a, b) => (a.driver ?? '').localeCompare(b.driver ?? '') || a.device.localeCompare(b.device) || a.point.localeCompare(b.point));
  const skipped: SkippedRow[] = [];
  for (const [driver, d] of Object.entries(ctx.agent.stats().drivers)) {
    for (const [source, h] of Object.entries(d.sources)) if (h.skipped) skipped.push({ driver, source, lines: { ...h.skipped.lines }, because: h.skipped.because, everGood: h.lastGoodAt !== undefined });
  }
  return Promise.resolve({ now, points, writes, skipped });
}
