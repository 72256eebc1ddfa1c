import { z } from 'zod';
import { agentConfigSchema, desiredDocumentSchema } from './schema.js';

/**
 * The JSON Schema documents cloud-side tooling validates against before pushing to a twin. They
 * are generated from the zod schema (one source of truth) and committed under config/; a test
 * regenerates them in memory and fails when the committed files are stale.
 *
 * Refinements (a query must compile, driver sections are checked by drivers/) cannot be expressed
 * in JSON Schema: a document that passes the schema may still be refused by the agent, with a
 * reason in the reported properties.
 */
export const CONFIG_SCHEMA_FILES = {
  'agent-config.schema.json': { schema: agentConfigSchema, title: 'edge-agent configuration (local file)' },
  'twin-desired.schema.json': { schema: desiredDocumentSchema, title: 'edge-agent desired properties (device twin overlay)' },
} as const;

export function configJsonSchemas(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [file, { schema, title }] of Object.entries(CONFIG_SCHEMA_FILES)) {
    // 'input': what a person writes (defaults make fields optional), not what the parser returns.
    const doc = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' });
    out[file] = JSON.stringify({ ...doc, title, $id: `https://edge-agent.local/schema/${file}` }, null, 2) + '\n';
  }
  return out;
}
