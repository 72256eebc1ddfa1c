import type { Command } from 'commander';
import { parseDuration } from '../duration.js';
import { withExamples } from '../help.js';

export const DEFAULT_CONFIG_PATH = '/etc/edge-agent/config.json';

export function registerRun(program: Command): void {
  withExamples(program.command('run'), ['run --config /etc/edge-agent/config.json', 'run -c ./config.json --flush-timeout 30s'])
    .description('run the agent as a service (what systemd starts)')
    .option('-c, --config <path>', 'config file', process.env.EDGE_AGENT_CONFIG ?? (process.env.CONFIGURATION_DIRECTORY ? `${process.env.CONFIGURATION_DIRECTORY}/config.json` : DEFAULT_CONFIG_PATH))
    .option('--flush-timeout <duration>', 'on SIGTERM, how long to keep sending what is buffered (500ms, 10s, 1m; a bare number is ms)', '5s')
    .option('--socket <path>', 'diagnostics socket (default: diagnostics.socketPath, else $RUNTIME_DIRECTORY/diagnostics.sock)')
    .action(async (opts: { config: string; flushTimeout: string; socket?: string }) => {
      const flushTimeoutMs = parseDuration(opts.flushTimeout, '--flush-timeout');
      const { runAgent } = await import('./run-agent.js');
      await runAgent({ config: opts.config, flushTimeoutMs, socket: opts.socket });
    });
}
