/**
 * Writes the configuration JSON Schemas to config/ (`npm run gen:schema`). CI does not run this:
 * test/agent/config/json-schema.test.ts fails when the committed files differ from what it writes.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { configJsonSchemas } from '../agent/config/json-schema.js';

const dir = join(import.meta.dirname, '..', 'config');
for (const [file, text] of Object.entries(configJsonSchemas())) {
  writeFileSync(join(dir, file), text);
  console.log(`wrote config/${file}`);
}
