import { z } from 'zod';
import { parseModbusConfig, parseSerialLineConfig } from '../../drivers/index.js';
import { errorMessage } from '../core/errors.js';

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

/**
 * Field drivers validate their own settings (drivers/ owns the Modbus and serial rules); the
 * agent checks them here too, so a bad driver section refuses the whole config up front.
 */
const modbusDriver = z.looseObject({ type: z.literal('modbus') }).superRefine((value, ctx) => refineWith(parseModbusConfig, value, ctx));
const serialLineDriver = z.looseObject({ type: z.literal('serial-line') }).superRefine((value, ctx) => refineWith(parseSerialLineConfig, value, ctx));

function refineWith(parse: (input: unknown) => unknown, value: { type: string }, ctx: z.RefinementCtx): void {
  const { type: _type, ...rest } = value;
  try {
    parse(rest);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: errorMessage(err) });
  }
}

export const driverConfigSchema = z.discriminatedUnion('type', [syntheticDriver, modbusDriver, serialLineDriver]);

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
      /** Share of messages kept for draining a backlog while live data flows. */
      backlogShare: z.number().gt(0).max(1).default(0.25),
      /** gzip message bodies; IoT Hub bills the compressed size. */
      compress: z.boolean().default(false),
    })
    .prefault({}),
  storage: z
    .strictObject({
      /** Logical bytes the buffer may hold (journal + unsent + retained), before eviction. */
      quotaBytes: z.number().int().min(1024 * 1024).default(1024 * 1024 * 1024),
      /** Unsent records older than this (by application time) are evicted; 0 keeps them forever. */
      ttlMs: z.number().int().min(0).default(0),
      /** Acknowledged records kept for resend requests from the cloud. */
      retentionMs: z.number().int().min(0).default(24 * 3600 * 1000),
    })
    .prefault({}),
  drivers: z.array(driverConfigSchema).default([]),
  log: z.strictObject({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info') }).prefault({}),
});

export type AgentConfig = z.infer<typeof agentConfigSchema>;
export type AgentConfigInput = z.input<typeof agentConfigSchema>;
export type DriverConfig = z.infer<typeof driverConfigSchema>;
