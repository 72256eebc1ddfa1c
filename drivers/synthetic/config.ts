import { z } from 'zod';

/**
 * The synthetic driver's settings (its config section without `type`). Strict like the rest of
 * the agent's config: a misspelt field must not fall back to a default.
 */
export const syntheticSettingsSchema = z.strictObject({
  name: z.string().min(1),
  source: z.string().min(1),
  intervalMs: z.number().int().positive().default(1000),
  points: z
    .array(
      z.strictObject({
        name: z.string().min(1),
        unit: z.string().optional(),
        periodMs: z.number().positive().optional(),
        amplitude: z.number().optional(),
        offset: z.number().optional(),
      }),
    )
    .min(1),
});

export type SyntheticDriverSettings = z.output<typeof syntheticSettingsSchema>;
