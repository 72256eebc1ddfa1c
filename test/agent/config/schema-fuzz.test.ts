import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../agent/config/load.js';
import type { JsonSchema } from '../../../agent/config/json-schema-rules.js';
import { checkDesired } from '../../../agent/twin/check-desired.js';
import { compileSchema } from './ajv.js';

const schema = JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', '..', 'config', 'twin-desired.schema.json'), 'utf8')) as JsonSchema;
const validate = compileSchema(schema);
const file = parseConfig({ hub: { connectionString: 'HostName=h;DeviceId=d;SharedAccessKey=AAAA' }, dataDir: '/tmp/x' }, 'fuzz file config');

/** Mostly a good value, sometimes one at or past an edge, or of the wrong type. */
const pick = (good: unknown[], edge: unknown[] = []) => fc.oneof({ arbitrary: fc.constantFrom(...good), weight: 5 }, { arbitrary: fc.constantFrom(...edge, ...JUNK), weight: 1 });
const JUNK: unknown[] = [-1, 0, 0.5, 1.5, 'x', '', true, null, 10_000_001];

/** Some of a section's fields (at most `max`), each from its own pick. */
function section(spec: Record<string, fc.Arbitrary<unknown>>, max = 3): fc.Arbitrary<Record<string, unknown>> {
  return fc
    .subarray(Object.keys(spec), { maxLength: Math.min(max, Object.keys(spec).length) })
    .chain((keys) => fc.tuple(...keys.map((k) => spec[k]!)).map((values) => Object.fromEntries(keys.map((k, i) => [k, values[i]]))));
}

const patch = section(
  {
    forwarding: fc.oneof(
      section({
        maxMessageBytes: pick([4096, 65_536, 262_144], [4095, 262_145]),
        lingerMs: pick([0, 1000]),
        maxInFlight: pick([1, 64], [65]),
        sendTimeoutMs: pick([1, 30_000]),
        keepAliveSeconds: pick([1, 60], [61]),
        retryInitialMs: pick([1, 1000, 60_000], [70_000]),
        retryMaxMs: pick([1000, 60_000], [999]),
        backlogShare: pick([0.25, 1], [1.01]),
        compress: pick([true, false], [1]),
      }),
      fc.constant(null),
    ),
    connection: section({
      livenessIntervalMs: pick([100, 30_000], [99]),
      livenessTimeoutMs: pick([100, 10_000], [99]),
      reconnectInitialMs: pick([10, 1000, 60_000], [9, 70_000]),
      reconnectMaxMs: pick([10, 60_000], [9]),
    }),
    storage: section({ quotaBytes: pick([1_048_576, 1e9], [1_048_575]), ttlMs: pick([0, 1000]), retentionMs: pick([0, 86_400_000]) }),
    twin: section({ reportMinIntervalMs: pick([100, 5000], [99]), healthIntervalMs: pick([1000], [999]), maxDesiredBytes: pick([256, 32_768], [255, 32_769]), enabled: pick([true]) }),
    log: fc.oneof(section({ level: pick(['info', 'debug', 'silent'], ['loud', 'INFO']) }), fc.constant(null)),
    analytics: section({
      tolerances: section({ lateArrivalMs: pick([0, 5000]), outOfOrderMs: pick([0, 1000]), policy: pick(['adjust', 'drop', 'revise'], ['ignore']), allowedLatenessMs: pick([0]) }),
      maxStateEntries: pick([1000, 10_000_000], [999]),
      forwardReadings: pick([true, false]),
    }),
  },
  4,
);

/** Modbus devices and points of every table, type, count and address near the edges. */
const modbusPoint = section(
  {
    table: pick(['coil', 'discrete', 'holding', 'input'], ['holdings']),
    address: pick([0, 1, 100, 65_534], [65_535, 65_536]),
    type: pick(['bool', 'int16', 'uint16', 'int32', 'uint32', 'float32', 'float64', 'string'], ['float']),
    count: pick([1, 2, 4, 8], [125, 126]),
    order: pick(['ABCD', 'DCBA'], ['ABDC']),
    scale: pick([1, 0.1]),
  },
  6,
).map((p) => ({ name: 'p', table: 'holding', address: 0, ...p }));
const modbusDevice = section(
  {
    transport: pick([{ kind: 'tcp', host: 'h' }, { kind: 'rtu', path: '/dev/ttyUSB0' }], [{ kind: 'tcp', host: 'h', port: 0 }, { kind: 'udp' }]),
    unitId: pick([0, 1, 247], [248, 256]),
    pollMs: pick([1, 1000], [0]),
    cron: pick(['* * * * *'], ['often']),
    timeoutMs: pick([10, 60_000], [9, 60_001]),
    retries: pick([0, 5], [6]),
    maxRegisters: pick([1, 125], [126]),
  },
  7,
).map((d) => ({ transport: { kind: 'tcp', host: 'h' }, unitId: 1, ...d }));
const modbus = fc.tuple(modbusDevice, modbusPoint).map(([device, point]) => ({ drivers: [{ type: 'modbus', devices: [{ name: 'd', ...device, points: [point] }] }] }));

/**
 * Where the schema may pass what the agent refuses: the rules it states only in descriptions.
 * Anything else the two disagree on is a bug in the generated schema.
 */
const DESCRIBED_ONLY = [/retryInitialMs must not exceed retryMaxMs/, /reconnectInitialMs must not exceed reconnectMaxMs/, /runs past 65535/, /over this device's maxRegisters/, /is not a valid cron expression/];

function agree(doc: Record<string, unknown>): void {
  const agent = checkDesired(file, doc);
  const byAjv = validate(doc);
  if (agent.ok) {
    expect(byAjv, `the agent accepts ${JSON.stringify(doc)} but the schema refuses: ${JSON.stringify(validate.errors)}`).toBe(true);
  } else if (byAjv) {
    // A driver's parser joins its problems with '; ': each must be one the schema describes.
    const unexplained = agent.problems.flatMap((p) => p.message.split('; ')).filter((m) => !DESCRIBED_ONLY.some((r) => r.test(m)));
    expect(unexplained, `the schema passes ${JSON.stringify(doc)}, which the agent refuses`).toEqual([]);
  }
}

describe('config/twin-desired.schema.json against the agent, fuzzed', () => {
  it('bounds, types, enums and nulls of the plain sections', () => {
    let accepted = 0;
    fc.assert(
      fc.property(patch, (doc) => {
        agree(doc);
        if (checkDesired(file, doc).ok) accepted++;
      }),
      { numRuns: 600 },
    );
    // Not vacuous: a good share of the documents are ones the agent takes.
    expect(accepted).toBeGreaterThan(20);
  });

  it('Modbus devices and points at the edges of every rule', () => {
    let accepted = 0;
    fc.assert(
      fc.property(modbus, (doc) => {
        agree(doc);
        if (checkDesired(file, doc).ok) accepted++;
      }),
      { numRuns: 600 },
    );
    expect(accepted).toBeGreaterThan(10);
  });
});
