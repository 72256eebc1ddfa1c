import type { Command } from 'commander';
import { usageError } from '../exit.js';

/**
 * `edge-agent config check FILE [--desired DOC]`: validates offline, as the agent would, and
 * prints every problem with its path. A subcommand of `config` (which asks the running agent).
 */
export function registerConfigCheck(program: Command): void {
  const config = program.commands.find((c) => c.name() === 'config') ?? program.command('config');
  config
    .command('check')
    .description('validate a config file, or a desired-properties document for the twin, offline; every problem is printed with its path (exit 0 valid, 78 not)')
    .argument('[file]', 'the local config file (the desired document is laid over it; without one, over the defaults)')
    .option('--desired <doc>', 'a desired-properties document or patch (JSON) as the twin would carry it')
    .option('--json', 'print {"valid": …, "problems": [{"path", "message"}]} for scripts')
    .addHelpText('after', '\nExamples:\n  edge-agent config check /etc/edge-agent/config.json\n  edge-agent config check --desired patch.json /etc/edge-agent/config.json\n')
    .action(async (file: string | undefined, _opts: unknown, cmd: Command) => {
      // `config` itself takes --json too: commander hands it to whichever command comes first.
      const opts = cmd.optsWithGlobals<{ desired?: string; json?: boolean }>();
      if (file === undefined && opts.desired === undefined) throw usageError('config check needs a config file, a --desired document, or both');
      const { runConfigCheck } = await import('./config-check-run.js');
      process.exitCode = runConfigCheck({ file, desired: opts.desired, json: opts.json === true });
    });
}
