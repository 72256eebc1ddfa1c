import { z } from 'zod';

/**
 * Report-by-exception settings of a point, as the drivers' configs carry them (the filter
 * itself is the agent's: agent/pipeline/deadband.ts). A driver-level `deadband` is the default
 * its points inherit; a point's own `deadband` replaces it whole (not merged, so what a point
 * says is all that applies to it), and `false` forwards every reading of that point.
 *
 * A number is forwarded when it moved by more than the band since the last value forwarded:
 * band = max(absolute, percent % of |last forwarded|). Percent of a last value of 0 is 0 (any
 * change passes): give `absolute` as well for a floor near zero. Booleans and strings are
 * forwarded when they change. `maxSilenceMs` forwards a value anyway once that long (by the
 * readings' application time) has passed since the point's last forwarded reading.
 */
export const deadbandSchema = z.strictObject({
  absolute: z.number().finite().min(0, { message: 'deadband.absolute must be ≥ 0 (in the point\'s engineering units)' }).optional(),
  percent: z.number().finite().min(0, { message: 'deadband.percent must be 0..100 (% of the last forwarded value)' }).max(100, { message: 'deadband.percent must be 0..100 (% of the last forwarded value)' }).optional(),
  maxSilenceMs: z.number().int().min(1000, { message: 'deadband.maxSilenceMs must be a whole number of ms ≥ 1000 (the heartbeat)' }).optional(),
});

/** A point's own setting: a deadband, or `false` for every reading. */
export const pointDeadbandSchema = z.union([deadbandSchema, z.literal(false)]);

export type DeadbandSpec = z.output<typeof deadbandSchema>;
export type PointDeadband = z.output<typeof pointDeadbandSchema>;

/** What applies to a point: its own setting, else the driver's (or device's) default. */
export function effectiveDeadband(own: PointDeadband | undefined, inherited: DeadbandSpec | undefined): DeadbandSpec | undefined {
  if (own === false) return undefined;
  return own ?? inherited;
}

/** Whether a spec has a band that only a number can use (a bool or string point passes changes only). */
export function hasBand(spec: PointDeadband | undefined): boolean {
  return spec !== undefined && spec !== false && (spec.absolute !== undefined || spec.percent !== undefined);
}

/**
 * One point's deadband, as a driver's config yields it; without `point`, the default of every
 * point of the source that has no rule of its own. `false`: every reading is forwarded.
 */
export interface DeadbandRule {
  source: string;
  point?: string;
  spec: DeadbandSpec | false;
}
