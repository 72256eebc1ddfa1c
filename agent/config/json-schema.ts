import { z } from 'zod';
import { driverSettingsSchemas } from '../../drivers/registry.js';
import { SCHEMA_RULES, type JsonSchema } from './json-schema-rules.js';
import { agentConfigSchema, desiredDocumentSchema } from './schema.js';

/**
 * The JSON Schema documents cloud-side tooling validates against before pushing to a twin. They
 * are generated from the zod schema the agent validates with (one source of truth), with each
 * driver type's settings from the schema its own parser uses, and committed under config/
 * (`npm run gen:schema`); a test regenerates them in memory and fails when the committed files
 * are stale, another checks them against the agent's own verdicts on a corpus of documents.
 *
 * What JSON Schema can say of the agent's refinements is added from json-schema-rules.ts; what
 * it cannot (a query must compile, names must be unique, one value below another) is stated in
 * the `description` of the object it concerns. A document that passes may still be refused for
 * one of those, with every problem in the reported properties.
 */
export const CONFIG_SCHEMA_FILES = {
  'agent-config.schema.json': { schema: agentConfigSchema, kind: 'file', title: 'edge-agent configuration (local file)' },
  'twin-desired.schema.json': { schema: desiredDocumentSchema, kind: 'desired', title: 'edge-agent desired properties (device twin overlay)' },
} as const;

const DESIRED_DESCRIPTION = [
  "The desired properties edge-agent reads from its device twin, laid over the local config file's values: objects merge key by key, arrays (drivers, queries) replace the file's whole.",
  "hub, dataDir, journal, diagnostics and storage.writeBufferBytes are the file's alone.",
  "In a desired patch, null deletes a key, so that setting goes back to the file's value (or the default when the file has none); nulls inside arrays are refused.",
  'The whole result is validated as one config: a value may pass here and still be refused with the file\'s values (say retryInitialMs above the file\'s retryMaxMs); rules this schema cannot express are stated in the description of the object they concern.',
  'A refusal is reported as reported.configRefused.v<version>, with every problem.',
].join(' ');

export function configJsonSchemas(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [file, { schema, kind, title }] of Object.entries(CONFIG_SCHEMA_FILES)) {
    const doc = configJsonSchema(schema, kind);
    out[file] = JSON.stringify({ ...doc, title, $id: `https://edge-agent.local/schema/${file}` }, null, 2) + '\n';
  }
  return out;
}

/** One document: zod's, drivers described by their settings, the rules laid on, IoT Hub's metadata for the twin's. */
export function configJsonSchema(schema: z.ZodType, kind: 'file' | 'desired'): JsonSchema {
  const doc = toJson(schema);
  describeDrivers(doc);
  for (const rule of SCHEMA_RULES) {
    if (rule.only !== undefined && rule.only !== kind) continue;
    for (const node of resolve(doc, rule.at)) {
      if (rule.keywords) Object.assign(node, rule.keywords);
      if (rule.allOf) node.allOf = [...((node.allOf as JsonSchema[] | undefined) ?? []), ...rule.allOf];
      if (rule.note) node.description = node.description ? `${String(node.description)} ${rule.note}` : rule.note;
    }
  }
  if (kind === 'desired') {
    allowNulls(doc);
    const properties = doc.properties as JsonSchema;
    doc.properties = {
      $version: { type: 'integer', minimum: 0, description: "IoT Hub's version of the desired document (read-only: the hub sets it, the agent ignores it in a patch)." },
      $metadata: { type: 'object', description: "IoT Hub's per-property update times (read-only)." },
      ...properties,
    };
    doc.description = DESIRED_DESCRIPTION;
  }
  return doc;
}

/** zod's JSON Schema of what a person writes ('input': defaults make fields optional, not required). */
function toJson(schema: z.ZodType): JsonSchema {
  const { $schema, ...rest } = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
  return { $schema, ...rest };
}

/**
 * A modbus or serial-line section's schema checks only `type` and leaves the rest to the driver's
 * parser, so zod's JSON shows `{type}` with anything else allowed. It is replaced by the JSON of
 * the settings schema that parser validates with, `type` added: every field, bounds, enums, and
 * unknown keys refused, as the parser refuses them.
 */
function describeDrivers(doc: JsonSchema): void {
  const drivers = (doc.properties as Record<string, JsonSchema>).drivers!;
  const items = drivers.items as { oneOf: JsonSchema[] };
  items.oneOf = items.oneOf.map((section) => {
    const type = typeConst(section) as keyof typeof driverSettingsSchemas;
    const { $schema: _drop, ...settings } = toJson(driverSettingsSchemas[type]);
    return {
      ...settings,
      type: 'object',
      properties: { type: { type: 'string', const: type }, ...(settings.properties as JsonSchema) },
      required: ['type', ...((settings.required as string[] | undefined) ?? []).filter((r) => r !== 'type')],
      additionalProperties: false,
    };
  });
}

function typeConst(section: JsonSchema): string {
  const type = ((section.properties as Record<string, JsonSchema> | undefined)?.type as JsonSchema | undefined)?.const;
  if (typeof type !== 'string') throw new Error('a drivers[] section has no type constant');
  return type;
}

/** The nodes `at` names (see SchemaRule.at); throws when it names none, so a stale rule fails generation. */
export function resolve(doc: JsonSchema, at: string): JsonSchema[] {
  let nodes: JsonSchema[] = [doc];
  for (const segment of at.split('.')) {
    const m = /^([^[\]]+)(?:\[([^\]]*)\])?$/.exec(segment);
    if (!m) throw new Error(`schema rule path ${at}: bad segment ${segment}`);
    const [, name, index] = m;
    nodes = nodes.flatMap((n) => {
      const next = name === '*' ? n.additionalProperties : (n.properties as Record<string, unknown> | undefined)?.[name!];
      if (typeof next !== 'object' || next === null) return [];
      if (index === undefined) return [next as JsonSchema];
      const items = (next as JsonSchema).items as JsonSchema | undefined;
      if (!items) return [];
      if (index === '') return [items];
      return ((items.oneOf as JsonSchema[] | undefined) ?? []).filter((s) => typeConst(s) === index);
    });
  }
  if (nodes.length === 0) throw new Error(`schema rule path ${at} names nothing in the generated schema`);
  return nodes;
}

/**
 * A desired patch may set any object key to null (the merge patch's delete), at any depth, but
 * not inside an array: null is added to each property's type below the root, items excepted.
 */
function allowNulls(node: JsonSchema): void {
  const properties = node.properties as Record<string, JsonSchema> | undefined;
  if (properties) for (const [k, v] of Object.entries(properties)) properties[k] = nullable(v);
  if (typeof node.additionalProperties === 'object' && node.additionalProperties !== null) node.additionalProperties = nullable(node.additionalProperties as JsonSchema);
}

function nullable(schema: JsonSchema): JsonSchema {
  allowNulls(schema);
  if (Array.isArray(schema.enum)) return { ...schema, enum: [...(schema.enum as unknown[]), null], ...(typeof schema.type === 'string' ? { type: [schema.type, 'null'] } : {}) };
  if (typeof schema.type === 'string' && schema.const === undefined) return { ...schema, type: [schema.type, 'null'] };
  return { anyOf: [schema, { type: 'null' }] };
}
