import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { configJsonSchemas } from '../../../agent/config/json-schema.js';

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
    expect(Object.keys(desired.properties).sort()).toEqual(['analytics', 'connection', 'drivers', 'forwarding', 'log', 'storage', 'twin']);
    expect(desired.additionalProperties).toBe(false);
  });
});

describe('config/example.json', () => {
  it('is a valid configuration', async () => {
    const { loadConfigFile } = await import('../../../agent/config/load.js');
    const config = loadConfigFile(join(import.meta.dirname, '..', '..', '..', 'config', 'example.json'));
    expect(config.analytics.queries.map((q) => q.name)).toEqual(['avg1m']);
  });
});
