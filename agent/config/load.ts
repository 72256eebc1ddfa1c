import { readFileSync } from 'node:fs';
import { EdgeError, errorMessage, systemErrorCode } from '../core/errors.js';
import { problemLines, zodProblems, type Problem } from './problems.js';
import { agentConfigSchema, type AgentConfig } from './schema.js';

/** Validates a config document, naming every problem by its path. */
export function parseConfig(doc: unknown, origin: string): AgentConfig {
  const result = checkConfig(doc);
  if (result.ok) return result.config;
  throw new EdgeError('EDGE_CONFIG_INVALID', `${origin} is not a valid configuration:\n  ${problemLines(result.problems).join('\n  ')}`, { cause: result.error });
}

/** The config, or every problem with its path (what `edge-agent config check` prints). */
export function checkConfig(doc: unknown): { ok: true; config: AgentConfig } | { ok: false; problems: Problem[]; error: Error } {
  const result = agentConfigSchema.safeParse(doc);
  if (result.success) return { ok: true, config: result.data };
  return { ok: false, problems: zodProblems(result.error), error: result.error };
}

export function loadConfigFile(path: string): AgentConfig {
  return parseConfig(readConfigDocument(path), `config file ${path}`);
}

/** A config (or, `what`, desired) document read as JSON; a missing, unreadable or non-JSON file is named. */
export function readConfigDocument(path: string, what = 'config file'): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    if (systemErrorCode(cause) === 'ENOENT') {
      throw new EdgeError('EDGE_CONFIG_NOT_FOUND', `${what} ${path} does not exist${what === 'config file' ? ' (give another with --config)' : ''}`, { cause });
    }
    throw new EdgeError('EDGE_CONFIG_NOT_FOUND', `${what} ${path} cannot be read: ${errorMessage(cause)}`, { cause });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (cause) {
    throw new EdgeError('EDGE_CONFIG_INVALID', `${what} ${path} is not valid JSON: ${errorMessage(cause)}`, { cause });
  }
}
