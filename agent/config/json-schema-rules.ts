/**
 * What the zod schema checks in code (refinements, the drivers' parsers) and JSON Schema can
 * still say, laid onto the generated documents by json-schema.ts; and, for what it cannot say (a
 * comparison of two values, uniqueness by a field, a query that must compile), the sentence its
 * `description` states instead. Each rule is there because the agent refuses the case: the
 * corpus test (test/agent/config/schema-corpus.test.ts) checks both sides agree on it.
 */

/** A JSON Schema fragment, as plain JSON. */
export type JsonSchema = { [key: string]: unknown };

export interface SchemaRule {
  /**
   * Where, from the document's root: `forwarding`, `analytics.inputs.*` (every value of a
   * record), `drivers[modbus]` (the `drivers` item of that type), `devices[]` (every item).
   */
  at: string;
  /** Constraints JSON Schema can express, added as `allOf`. */
  allOf?: JsonSchema[];
  /** Keywords merged into the node itself (e.g. `propertyNames`). */
  keywords?: JsonSchema;
  /** A rule JSON Schema cannot express, appended to the node's `description`. */
  note?: string;
  /** Only in one of the two documents (the local file's schema, or the twin's). */
  only?: 'file' | 'desired';
}

/** Input and reference names are written in FROM/JOIN: schema.ts `inputName`. */
const SQL_IDENTIFIER = '^[A-Za-z_][A-Za-z0-9_]{0,63}$';

const whenPoint = (type: string[]): JsonSchema => ({ properties: { type: { enum: type } }, required: ['type'] });

/** Modbus register counts by value type, as drivers/modbus/codec.ts `registerCount` gives them. */
const pointCounts: JsonSchema[] = [
  { if: { properties: { table: { enum: ['coil', 'discrete'] } }, required: ['table'] }, then: { properties: { type: { const: 'bool' }, count: { const: 1 } } } },
  { if: whenPoint(['string']), then: { required: ['count'] } },
  { if: whenPoint(['bool', 'int16', 'uint16']), then: { properties: { count: { const: 1 } } } },
  { if: whenPoint(['int32', 'uint32', 'float32']), then: { properties: { count: { const: 2 } } } },
  { if: whenPoint(['float64']), then: { properties: { count: { const: 4 } } } },
  // No type: bool on a bit table, uint16 on a register table, one register either way.
  { if: { not: { required: ['type'] } }, then: { properties: { count: { const: 1 } } } },
  // drivers/modbus/pdu.ts MAX_READ_REGISTERS: a value must fit in one read.
  { properties: { count: { type: 'integer', maximum: 125 } } },
];

export const SCHEMA_RULES: readonly SchemaRule[] = [
  { at: 'forwarding', note: 'retryInitialMs must not exceed retryMaxMs.' },
  { at: 'connection', note: 'reconnectInitialMs must not exceed reconnectMaxMs.' },
  { at: 'drivers', note: 'Driver names must be unique (a modbus or serial-line driver without a name is named after its type).' },
  { at: 'analytics', note: 'Input and reference table names may not repeat across inputs and reference, compared without case (as in a query).' },
  { at: 'analytics.queries', note: 'Query names must be unique, and each query must compile (ASA-style SQL, JOINs only on configured reference tables).' },
  { at: 'analytics.inputs', keywords: { propertyNames: { pattern: SQL_IDENTIFIER } } },
  { at: 'analytics.reference', keywords: { propertyNames: { pattern: SQL_IDENTIFIER } } },
  { at: 'analytics.inputs.*', only: 'file', allOf: [{ anyOf: [{ required: ['drivers'] }, { required: ['sources'] }, { required: ['points'] }] }] },
  // A desired object merges over the file's: what it lacks the file may give, so nothing outside an array is required.
  { at: 'analytics.inputs.*', only: 'desired', note: "With the file's values laid under it, an input selects readings by at least one of drivers, sources and points." },
  {
    at: 'analytics.reference.*',
    only: 'file',
    allOf: [
      { oneOf: [{ required: ['file'] }, { required: ['rows'] }] },
      { if: { required: ['format'] }, then: { required: ['file'] } },
      { properties: { file: { type: 'string', pattern: '^/' } } },
      { if: { not: { required: ['format'] } }, then: { properties: { file: { type: 'string', pattern: '\\.([cC][sS][vV]|[jJ][sS][oO][nN])$' } } } },
    ],
  },
  {
    at: 'analytics.reference.*',
    only: 'desired',
    allOf: [{ not: { required: ['file'] } }],
    note: "From the twin a reference table is given inline as rows, or adjusts one the local file names: a file to read is named only there. With the file's values laid under it, a table has exactly one of file and rows.",
  },
  { at: 'drivers[modbus]', note: 'Device names must be unique; devices on one serial line (path) must agree on baudRate, parity, dataBits and stopBits, and may not share a unitId.' },
  {
    at: 'drivers[modbus].devices[]',
    allOf: [
      { not: { required: ['pollMs', 'cron'] } },
      { if: { properties: { transport: { type: 'object', properties: { kind: { const: 'rtu' } }, required: ['kind'] } }, required: ['transport'] }, then: { properties: { unitId: { type: 'integer', minimum: 1, maximum: 247 } } } },
    ],
    note: 'cron must be a valid cron expression; point names must be unique within a device, and points of one table may not overlap.',
  },
  { at: 'drivers[modbus].devices[].points[]', allOf: pointCounts, note: 'address + count may not pass 65536, and count may not exceed the device\'s maxRegisters.' },
  { at: 'drivers[serial-line]', note: 'Sensor names and sensor paths must be unique.' },
  { at: 'drivers[serial-line].sensors[]', note: 'A regex parser\'s pattern must compile and have at least one named group.' },
];
