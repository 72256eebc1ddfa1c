import { z } from 'zod';

/**
 * The agent's configuration. Unknown keys are refused rather than ignored: a typo in a field
 * name must not silently fall back to a default on a box nobody can visit.
 */
const syntheticDriver = z.strictObject({
  type: z.literal('synthetic'),
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

export const driverConfigSchema = z.discriminatedUnion('type', [syntheticDriver]);

export const agentConfigSchema = z.strictObject({
  hub: z.strictObject({
    connectionString: z.string().min(1),
    /** PEM file of a CA to trust besides the system's (the local emulator's). */
    caFile: z.string().optional(),
  }),
  dataDir: z.string().min(1),
  journal: z.strictObject({ sync: z.boolean().default(true) }).default({ sync: true }),
  forwarding: z
    .strictObject({
      maxMessageBytes: z.number().int().min(4096).max(256 * 1024).default(64 * 1024),
      lingerMs: z.number().int().min(0).default(1000),
      maxInFlight: z.number().int().min(1).max(64).default(4),
      sendTimeoutMs: z.number().int().positive().default(30_000),
      connectTimeoutMs: z.number().int().positive().default(30_000),
      keepAliveSeconds: z.number().int().min(5).max(1177).default(60),
      retryInitialMs: z.number().int().positive().default(1000),
      retryMaxMs: z.number().int().positive().default(60_000),
    })
    .prefault({}),
  drivers: z.array(driverConfigSchema).default([]),
  log: z.strictObject({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info') }).prefault({}),
});

export type AgentConfig = z.infer<typeof agentConfigSchema>;
export type AgentConfigInput = z.input<typeof agentConfigSchema>;
export type DriverConfig = z.infer<typeof driverConfigSchema>;
