import { z } from 'zod';
import type { Clock } from '../agent/core/clock.js';
import type { Driver } from '../agent/core/driver.js';
import { errorMessage } from '../agent/core/errors.js';
import type { Logger } from '../agent/core/logger.js';
import { modbusSettingsSchema, parseModbusConfig } from './config.js';
import { parseSerialLineConfig, serialLineSettingsSchema } from './serial-line/config.js';
import { syntheticSettingsSchema } from './synthetic/config.js';

/**
 * The one list of driver types: for each, the schema of its config section and a loader that
 * builds the driver. This module is the light face of drivers/ (schemas and parsers only): a
 * driver's implementation, and what it pulls in (serialport for the serial ones), is imported
 * only when a config names that type.
 */

export interface DriverDeps {
  clock: Clock;
  logger: Logger;
}

const syntheticSection = z.strictObject({ type: z.literal('synthetic'), ...syntheticSettingsSchema.shape });

/**
 * Field drivers validate their own settings with their own parser (its messages name the device
 * and point); the section schema runs that parser too, so a bad driver section refuses the whole
 * config up front. JSON Schema sees only `type`: the parser's refinements are not expressible.
 */
const modbusSection = z.looseObject({ type: z.literal('modbus') }).superRefine((value, ctx) => refineWith(parseModbusConfig, value, ctx));
const serialLineSection = z.looseObject({ type: z.literal('serial-line') }).superRefine((value, ctx) => refineWith(parseSerialLineConfig, value, ctx));

function refineWith(parse: (input: unknown) => unknown, value: { type: string }, ctx: z.RefinementCtx): void {
  try {
    parse(withoutType(value));
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: errorMessage(err) });
  }
}

function withoutType<T extends { type: string }>(section: T): Omit<T, 'type'> {
  const { type: _type, ...settings } = section;
  return settings;
}

/** One config section of `drivers[]`, whichever its type. */
export const driverSectionSchema = z.discriminatedUnion('type', [syntheticSection, modbusSection, serialLineSection]);
export type DriverSection = z.infer<typeof driverSectionSchema>;
export type DriverType = DriverSection['type'];
type SectionOf<T extends DriverType> = Extract<DriverSection, { type: T }>;

/**
 * Each type's settings (its section without `type`) as its parser checks them. The section
 * schemas above show JSON Schema only `type`; agent/config/json-schema.ts describes the sections
 * with these instead, so the schema cloud tooling gets has every field the parsers know.
 */
export const driverSettingsSchemas: { readonly [T in DriverType]: z.ZodType } = { synthetic: syntheticSettingsSchema, modbus: modbusSettingsSchema, 'serial-line': serialLineSettingsSchema };

const loaders: { [T in DriverType]: (section: SectionOf<T>, deps: DriverDeps) => Promise<Driver> } = {
  synthetic: async (section, { clock }) => {
    const { SyntheticDriver } = await import('./synthetic/synthetic-driver.js');
    return new SyntheticDriver({ ...withoutType(section), clock });
  },
  modbus: async (section, { clock, logger }) => {
    const { ModbusDriver } = await import('./modbus/driver.js');
    return new ModbusDriver(withoutType(section), { clock, logger });
  },
  'serial-line': async (section, { clock, logger }) => {
    const { SerialLineDriver } = await import('./serial-line/driver.js');
    return new SerialLineDriver(withoutType(section), { clock, logger });
  },
};

/** The driver types this build knows, in the order the schema lists them. */
export const DRIVER_TYPES = Object.keys(loaders) as DriverType[];

/** Builds the driver a validated section describes, loading its module on first use. */
export function createDriver<T extends DriverType>(section: SectionOf<T>, deps: DriverDeps): Promise<Driver> {
  const load = loaders[section.type as T];
  return load(section, deps);
}

/** Each section's report-by-exception settings, resolved per point (agent/pipeline/deadband.ts filters with them). */
export { deadbandsOf, type DriverDeadbands } from './deadband-rules.js';
export type { DeadbandRule, DeadbandSpec } from './deadband.js';
