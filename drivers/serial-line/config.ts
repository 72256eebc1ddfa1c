import { z } from 'zod';
import { parseWith } from '../config.js';
import { configError } from '../errors.js';
import { csvParser } from './parsers/csv.js';
import { jsonParser } from './parsers/json.js';
import { nmeaParser } from './parsers/nmea.js';
import { regexParser } from './parsers/regex.js';
import type { LineParser } from './parser.js';
import { deadbandSchema, effectiveDeadband, hasBand, pointDeadbandSchema, type DeadbandRule } from '../deadband.js';

const fieldType = z.enum(['number', 'string', 'bool']);
const timeFormat = z.enum(['iso', 'epoch-ms', 'epoch-s']);

const parser = z.discriminatedUnion('kind', [
  z
    .object({
      kind: z.literal('csv'),
      separator: z.string().min(1).default(','),
      columns: z.array(z.object({ name: z.string().min(1), index: z.number().int().min(0), type: fieldType.default('number') }).strict()).min(1),
      timestamp: z.object({ index: z.number().int().min(0), format: timeFormat }).strict().optional(),
      skipPrefix: z.string().min(1).optional(),
    })
    .strict(),
  z
    .object({
      kind: z.literal('regex'),
      pattern: z.string().min(1),
      flags: z.string().optional(),
      types: z.record(z.string(), fieldType).optional(),
      timestamp: z.object({ group: z.string().min(1), format: timeFormat }).strict().optional(),
      onMismatch: z.enum(['bad', 'ignore']).default('bad'),
    })
    .strict(),
  z
    .object({
      kind: z.literal('json'),
      fields: z.record(z.string(), z.string().min(1)),
      timestamp: z.object({ path: z.string().min(1), format: timeFormat }).strict().optional(),
    })
    .strict(),
  z
    .object({
      kind: z.literal('nmea'),
      sentences: z.array(z.string().min(3)).optional(),
      fields: z.record(z.string(), z.record(z.string(), z.object({ index: z.number().int().min(1), type: fieldType.default('number') }).strict())).optional(),
      requireChecksum: z.boolean().default(false),
    })
    .strict(),
]);

const sensor = z
  .object({
    name: z.string().min(1),
    /** Any path, including `/dev/serial/by-id/…` symlinks (resolved at every open). */
    path: z.string().min(1),
    baudRate: z.number().int().positive().default(9600),
    parity: z.enum(['none', 'even', 'odd']).default('none'),
    dataBits: z.union([z.literal(7), z.literal(8)]).default(8),
    stopBits: z.union([z.literal(1), z.literal(2)]).default(1),
    delimiter: z.string().min(1).default('\n'),
    maxLineLength: z.number().int().min(16).max(65536).default(4096),
    /** Added to the device's own timestamps (its clock's known error), in ms. */
    clockOffsetMs: z.number().int().default(0),
    units: z.record(z.string(), z.string()).default({}),
    parser,
    /** This sensor's default deadband (drivers/deadband.ts), replacing the driver's; `false` forwards every reading. */
    deadband: pointDeadbandSchema.optional(),
    /** Per point (field name), replacing the sensor's default. */
    pointDeadbands: z.record(z.string(), pointDeadbandSchema).default({}),
  })
  .strict();

const schema = z
  .object({
    name: z.string().min(1).default('serial-line'),
    sensors: z.array(sensor).min(1),
    reopen: z
      .object({ baseMs: z.number().int().min(1).default(500), maxMs: z.number().int().min(1).default(30_000) })
      .strict()
      .default({ baseMs: 500, maxMs: 30_000 }),
    /** Readings held while the sink is busy before the port is paused (backpressure). */
    highWater: z.number().int().min(1).default(1000),
    /** The deadband every point inherits unless its sensor or itself gives one (drivers/deadband.ts). */
    deadband: deadbandSchema.optional(),
  })
  .strict();

export type SerialLineDriverInput = z.input<typeof schema>;
export type SerialLineDriverConfig = z.output<typeof schema>;
export type SensorConfig = SerialLineDriverConfig['sensors'][number];
export type ParserConfig = SensorConfig['parser'];

function buildParser(p: ParserConfig): LineParser {
  switch (p.kind) {
    case 'csv':
      return csvParser(p);
    case 'regex':
      return regexParser(p);
    case 'json':
      return jsonParser(p);
    case 'nmea':
      return nmeaParser(p);
  }
}

/** Validates eagerly (including that each parser can be built); names the sensor on refusal. */
export function parseSerialLineConfig(input: unknown): SerialLineDriverConfig & { parsers: Map<string, LineParser> } {
  const cfg = parseWith(schema, input, 'serial-line');
  const problems: string[] = [];
  const parsers = new Map<string, LineParser>();
  for (const s of cfg.sensors) {
    if (parsers.has(s.name)) problems.push(`sensor "${s.name}": duplicate sensor name`);
    try {
      parsers.set(s.name, buildParser(s.parser));
    } catch (err) {
      problems.push(`sensor "${s.name}" parser: ${(err as Error).message}`);
    }
    const dupPath = cfg.sensors.find((o) => o !== s && o.path === s.path);
    if (dupPath && cfg.sensors.indexOf(dupPath) < cfg.sensors.indexOf(s)) problems.push(`sensor "${s.name}": path ${s.path} is already sensor "${dupPath.name}"`);
  }
  for (const s of cfg.sensors) problems.push(...deadbandProblems(s));
  if (problems.length) throw configError(`serial-line config invalid: ${problems.join('; ')}`);
  return { ...cfg, parsers };
}

/** The field names and types a parser's config declares, where it declares them (regex groups and NMEA defaults are not listed). */
function declaredFields(p: ParserConfig): Map<string, string> | undefined {
  switch (p.kind) {
    case 'csv':
      return new Map(p.columns.map((c) => [c.name, c.type]));
    case 'json':
      return new Map(Object.keys(p.fields).map((f) => [f, 'any']));
    case 'regex':
      return undefined;
    case 'nmea':
      return p.fields ? new Map(Object.values(p.fields).flatMap((fs) => Object.entries(fs).map(([name, f]) => [name, f.type]))) : undefined;
  }
}

function deadbandProblems(s: SensorConfig): string[] {
  const out: string[] = [];
  const fields = declaredFields(s.parser);
  const types = s.parser.kind === 'regex' ? s.parser.types : undefined;
  for (const [point, spec] of Object.entries(s.pointDeadbands)) {
    const at = `sensor "${s.name}" pointDeadbands "${point}"`;
    const type = fields?.get(point) ?? types?.[point];
    if (fields && !fields.has(point)) out.push(`${at}: the parser has no field "${point}" (it has ${[...fields.keys()].join(', ')})`);
    else if ((type === 'bool' || type === 'string') && hasBand(spec)) out.push(`${at}: deadband absolute/percent apply to numbers; a ${type} is forwarded on change only (give just maxSilenceMs, or {})`);
  }
  return out;
}

/**
 * The deadband of a sensor's points: a reading's source is the sensor's name. Some parsers know
 * their fields only at run time, so the sensor's default is a rule for any point it does not list.
 */
export function serialLineDeadbands(cfg: SerialLineDriverConfig): DeadbandRule[] {
  return cfg.sensors.flatMap((s) => {
    const inherited = effectiveDeadband(s.deadband, cfg.deadband);
    const listed = Object.entries(s.pointDeadbands).map(([point, own]): DeadbandRule => ({ source: s.name, point, spec: effectiveDeadband(own, inherited) ?? false }));
    return inherited ? [{ source: s.name, spec: inherited }, ...listed] : listed;
  });
}

/** The serial-line driver's settings schema, for the JSON Schema cloud tooling gets (see ../registry.ts). */
export const serialLineSettingsSchema = schema;
