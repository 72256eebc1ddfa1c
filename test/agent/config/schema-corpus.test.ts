import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../agent/config/load.js';
import { resolve } from '../../../agent/config/json-schema.js';
import type { JsonSchema } from '../../../agent/config/json-schema-rules.js';
import { compileSchema } from './ajv.js';
import { checkDesired } from '../../../agent/twin/check-desired.js';
import { CORPUS } from './schema-corpus.js';

const schema = JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', '..', 'config', 'twin-desired.schema.json'), 'utf8')) as JsonSchema;
const validate = compileSchema(schema);

const fileConfig = (over: Record<string, unknown> = {}) => parseConfig({ hub: { connectionString: 'HostName=h;DeviceId=d;SharedAccessKey=AAAA' }, dataDir: '/tmp/x', ...over }, 'corpus file config');

/** The agent's own verdict, by its real path (the desired state machine, as `config check --desired` runs it). */
function agentVerdict(doc: Record<string, unknown>, over?: Record<string, unknown>): { accepted: boolean; problems: string } {
  const r = checkDesired(fileConfig(over), doc);
  return r.ok ? { accepted: true, problems: '' } : { accepted: false, problems: JSON.stringify(r.problems) };
}

describe('config/twin-desired.schema.json against the agent, on a corpus of desired documents', () => {
  for (const c of CORPUS) {
    it(c.name, () => {
      const agent = agentVerdict(c.doc, c.file);
      expect(agent.accepted, `agent: ${agent.problems}`).toBe(c.accepted);
      const byAjv = validate(c.doc);
      if (c.cannot) {
        // JSON Schema cannot say this rule: the schema passes the document, its description says why the agent will not.
        expect(agent.problems).toMatch(c.cannot.says);
        expect(byAjv, JSON.stringify(validate.errors)).toBe(true);
        const descriptions = resolve(schema, c.cannot.at).map((n) => String(n.description ?? ''));
        expect(descriptions.some((d) => d.includes(c.cannot!.note)), `${c.cannot.at}'s description: ${descriptions.join(' | ')}`).toBe(true);
      } else {
        expect(byAjv, `schema and agent disagree (agent ${c.accepted ? 'accepts' : 'refuses'}): ${JSON.stringify(validate.errors)}`).toBe(c.accepted);
      }
    });
  }

  it('covers every rule the schema states in a description with at least one case', () => {
    const covered = new Set(CORPUS.flatMap((c) => (c.cannot ? [c.cannot.note] : [])));
    expect(covered.size).toBeGreaterThanOrEqual(12);
  });
});
