import { checkConfig, parseConfig, readConfigDocument } from '../../config/load.js';
import { problemLines, type Problem } from '../../config/problems.js';
import type { AgentConfig } from '../../config/schema.js';
import { checkDesired } from '../../twin/check-desired.js';
import { EXIT_CONFIG } from '../exit.js';
import { paint, printJson } from '../format.js';

export interface ConfigCheckOptions {
  file?: string | undefined;
  desired?: string | undefined;
  json: boolean;
}

/**
 * Without a file, a desired document is laid over what a file with only the required settings
 * gives: every other value is the default. The stand-ins are never used beyond this check.
 */
const DEFAULTS_ONLY = { hub: { connectionString: 'HostName=offline-check;DeviceId=offline-check;SharedAccessKey=AA==' }, dataDir: '/var/lib/edge-agent' };

/** Returns the exit code: 0 when everything checked is valid, 78 (EX_CONFIG) when not. */
export function runConfigCheck(opts: ConfigCheckOptions): number {
  let base: AgentConfig;
  const what: string[] = [];
  if (opts.file !== undefined) {
    const result = checkConfig(readConfigDocument(opts.file));
    if (!result.ok) return report(opts, `config file ${opts.file}`, result.problems);
    base = result.config;
    what.push(`config file ${opts.file}`);
  } else {
    base = parseConfig(DEFAULTS_ONLY, 'the defaults');
  }
  if (opts.desired !== undefined) {
    const result = checkDesired(base, readConfigDocument(opts.desired, 'desired document'));
    const over = opts.file !== undefined ? `laid over ${opts.file}` : 'laid over the defaults';
    if (!result.ok) return report(opts, `desired document ${opts.desired} (${over})`, result.problems);
    what.push(`desired document ${opts.desired} (${over})`);
  }
  return report(opts, what.join(' and '), []);
}

function report(opts: ConfigCheckOptions, subject: string, problems: Problem[]): number {
  const valid = problems.length === 0;
  if (opts.json) {
    printJson({ valid, subject, problems });
  } else if (valid) {
    process.stdout.write(`${paint().ok('valid')}: ${subject}\n`);
  } else {
    const p = paint();
    process.stdout.write(`${p.bad('not valid')}: ${subject}, ${problems.length} problem${problems.length > 1 ? 's' : ''}:\n${problemLines(problems).map((l) => `  ${l.replace(/\n/g, '\n    ')}`).join('\n')}\n`);
  }
  return valid ? 0 : EXIT_CONFIG;
}
