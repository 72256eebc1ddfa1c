import type { DiagnosticsContext } from '../context.js';
import type { PointValue, Quality } from '../../core/reading.js';

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

/** `edge-agent sensors`: the latest value of every point, with quality and age. */
export function sensors(ctx: DiagnosticsContext): Promise<{ now: number; points: SensorRow[] }> {
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
  return Promise.resolve({ now, points });
}
