import type { Command } from 'commander';
import { usageError } from '../exit.js';

export const DEFAULT_CONFIG_PATH = '/etc/edge-agent/config.json';

export function registerRun(program: Command): void {
  program
    .command('run')
    .description('run the agent as a service (what systemd starts)')
    .option('-c, --config <path>', 'config file', process.env.EDGE_AGENT_CONFIG ?? (process.env.CONFIGURATION_DIRECTORY ? `${process.env.CONFIGURATION_DIRECTORY}/config.json` : DEFAULT_CONFIG_PATH))
    .option('--flush-timeout <ms>', 'on SIGTERM, how long to keep sending what is buffered', '5000')
    .option('--socket <path>', 'diagnostics socket (default: diagnostics.socketPath, else $RUNTIME_DIRECTORY/diagnostics.sock)')
    .action(async (opts: { config: string; flushTimeout: string; socket?: string }) => {
      const flushTimeoutMs = Number(opts.flushTimeout);
      if (!(Number.isInteger(flushTimeoutMs) && flushTimeoutMs >= 0)) throw usageError(`--flush-timeout '${opts.flushTimeout}' is not a number of milliseconds`);
      const { runAgent } = await import('./run-agent.js');
      await runAgent({ config: opts.config, flushTimeoutMs, socket: opts.socket });
    });
}
