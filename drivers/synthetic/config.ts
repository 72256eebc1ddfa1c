import { z } from 'zod';
import { deadbandSchema, effectiveDeadband, pointDeadbandSchema, type DeadbandRule } from '../deadband.js';

const DRIFT_FIELDS = ['setpoint', 'drift', 'reversion', 'noise', 'resolution', 'seed'] as const;

const point = z
  .strictObject({
    name: z.string().min(1),
    unit: z.string().optional(),
    /**
     * `sine` (when absent: offset + amplitude·sin over periodMs), or `drift`: a plant-like value
     * that wanders slowly around a setpoint (a random walk pulled back towards it) with small
     * noise on top, as most process values do between polls (drift-signal.ts).
     */
    signal: z.enum(['sine', 'drift']).optional(),
    periodMs: z.number().positive().optional(),
    amplitude: z.number().optional(),
    offset: z.number().optional(),
    /** drift: the value it wanders around (default 0). */
    setpoint: z.number().finite().optional(),
    /** drift: standard deviation of the walk's step per poll, in units (default 0.01). */
    drift: z.number().finite().min(0).optional(),
    /** drift: share of the distance to the setpoint taken back each poll, 0..1 (default 0.001). */
    reversion: z.number().min(0).max(1).optional(),
    /** drift: amplitude of the uniform noise on each reading, in units (default 0.02). */
    noise: z.number().finite().min(0).optional(),
    /** drift: the value is rounded to a multiple of this, as a register's scale quantises it. */
    resolution: z.number().positive().optional(),
    /** drift: seed of its random sequence (default: from source and point name), so runs repeat. */
    seed: z.number().int().optional(),
    /** Report-by-exception (drivers/deadband.ts): replaces the driver's default; `false` forwards every reading. */
    deadband: pointDeadbandSchema.optional(),
  })
  .superRefine((p, ctx) => {
    if (p.signal === 'drift') return;
    for (const f of DRIFT_FIELDS) if (p[f] !== undefined) ctx.addIssue({ code: 'custom', path: [f], message: `${f} is a setting of signal "drift" (this point's signal is "sine")` });
  });

/**
 * The synthetic driver's settings (its config section without `type`). Strict like the rest of
 * the agent's config: a misspelt field must not fall back to a default.
 */
export const syntheticSettingsSchema = z.strictObject({
  name: z.string().min(1),
  source: z.string().min(1),
  intervalMs: z.number().int().positive().default(1000),
  points: z.array(point).min(1),
  /** The deadband every point inherits unless it gives its own (drivers/deadband.ts). */
  deadband: deadbandSchema.optional(),
});

export type SyntheticDriverSettings = z.output<typeof syntheticSettingsSchema>;
export type SyntheticPoint = SyntheticDriverSettings['points'][number];

/** The deadband of every point that has one; a synthetic reading's source is the configured `source`. */
export function syntheticDeadbands(s: SyntheticDriverSettings): DeadbandRule[] {
  return s.points.flatMap((p) => {
    const spec = effectiveDeadband(p.deadband, s.deadband);
    return spec ? [{ source: s.source, point: p.name, spec }] : [];
  });
}
