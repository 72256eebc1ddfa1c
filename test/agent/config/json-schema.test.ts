import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { configJsonSchemas, resolve } from '../../../agent/config/json-schema.js';
import type { JsonSchema } from '../../../agent/config/json-schema-rules.js';
import { compileSchema } from './ajv.js';
import { checkConfig } from '../../../agent/config/load.js';

describe('config JSON Schema', () => {
  it('the committed documents in config/ are what the schema generates (run `npm run gen:schema`)', () => {
    const generated = configJsonSchemas();
    expect(Object.keys(generated).length).toBe(2);
    for (const [file, text] of Object.entries(generated)) {
      const committed = readFileSync(join(import.meta.dirname, '..', '..', '..', 'config', file), 'utf8');
      expect(committed, `config/${file} is stale: run npm run gen:schema`).toBe(text);
    }
  });

  it('describes every twin-settable section and refuses unknown keys', () => {
    const desired = JSON.parse(configJsonSchemas()['twin-desired.schema.json']!) as { properties: Record<string, unknown>; additionalProperties: boolean };
    expect(Object.keys(desired.properties).sort()).toEqual(['$metadata', '$version', 'analytics', 'connection', 'drivers', 'forwarding', 'log', 'storage', 'twin']);
    expect(desired.additionalProperties).toBe(false);
  });

  it('describes each driver type by every field its parser knows, unknown keys refused', () => {
    const desired = JSON.parse(configJsonSchemas()['twin-desired.schema.json']!) as JsonSchema;
    const byType = Object.fromEntries(['synthetic', 'modbus', 'serial-line'].map((t) => [t, resolve(desired, `drivers[${t}]`)[0]!]));
    expect(Object.keys(byType.modbus!.properties as object).sort()).toEqual(['breaker', 'deadband', 'devices', 'name', 'reopen', 'type']);
    expect(byType.modbus!.required).toEqual(['type', 'devices']);
    const device = resolve(desired, 'drivers[modbus].devices[]')[0]!;
    expect(Object.keys(device.properties as object)).toEqual(expect.arrayContaining(['transport', 'unitId', 'pollMs', 'cron', 'timeoutMs', 'retries', 'maxGap', 'maxRegisters', 'maxBits', 'points']));
    expect(resolve(desired, 'drivers[modbus].devices[].points[].table')[0]).toMatchObject({ enum: ['coil', 'discrete', 'holding', 'input'] });
    expect(Object.keys(resolve(desired, 'drivers[serial-line].sensors[]')[0]!.properties as object)).toEqual(expect.arrayContaining(['path', 'baudRate', 'parity', 'delimiter', 'maxLineLength', 'parser']));
    for (const section of Object.values(byType)) expect(section.additionalProperties).toBe(false);
  });
});

describe('config/agent-config.schema.json', () => {
  const validate = compileSchema(JSON.parse(configJsonSchemas()['agent-config.schema.json']!) as JsonSchema);
  const base = { hub: { connectionString: 'HostName=h;DeviceId=d;SharedAccessKey=a2V5' }, dataDir: '/var/lib/edge-agent' };
  const reference = (r: Record<string, unknown>) => ({ ...base, analytics: { reference: { t: r } } });
  it.each([
    ['a file table', reference({ file: '/etc/edge-agent/t.CSV' }), true],
    ['a file table with its format', reference({ file: '/etc/edge-agent/t.txt', format: 'json' }), true],
    ['inline rows', reference({ rows: [{ a: 1 }] }), true],
    ['a relative path', reference({ file: 't.csv' }), false],
    ['a file whose format cannot be told', reference({ file: '/etc/edge-agent/t.txt' }), false],
    ['both file and rows', reference({ file: '/t.csv', rows: [] }), false],
    ['neither file nor rows', reference({ pollMs: 1000 }), false],
    ['a format for inline rows', reference({ rows: [], format: 'csv' }), false],
    ['an input that selects nothing', { ...base, analytics: { inputs: { i: {} } } }, false],
    ['the journal on an interval', { ...base, journal: { sync: 'interval', intervalMs: 100 } }, true],
    ['no dataDir', { hub: base.hub }, false],
  ])('%s: the schema and the agent agree', (_name, doc, valid) => {
    expect(checkConfig(doc).ok).toBe(valid);
    expect(validate(doc), JSON.stringify(validate.errors)).toBe(valid);
  });

  it('passes the shipped configs, as the agent does', () => {
    for (const name of ['example.json', 'edge-agent.json']) {
      const doc = JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', '..', 'config', name), 'utf8')) as unknown;
      expect(validate(doc), `${name}: ${JSON.stringify(validate.errors)}`).toBe(true);
    }
  });
});

describe('config/example.json', () => {
  it('is a valid configuration', async () => {
    const { loadConfigFile } = await import('../../../agent/config/load.js');
    const config = loadConfigFile(join(import.meta.dirname, '..', '..', '..', 'config', 'example.json'));
    expect(config.analytics.queries.map((q) => q.name)).toEqual(['avg1m']);
  });
});
