import type { Command } from 'commander';
import { systemClock } from '../../core/clock.js';
import { createRootLogger } from '../../core/logger.js';
import { loadConfigFile } from '../../config/load.js';
import { startAgentFromConfig } from '../../runtime/build-agent.js';
import { untilShutdownSignal } from '../shutdown.js';

export const DEFAULT_CONFIG_PATH = '/etc/edge-agent/config.json';

export function registerRun(program: Command): void {
  program
    .command('run')
    .description('run the agent as a service (what systemd starts)')
    .option('-c, --config <path>', 'config file', process.env.EDGE_AGENT_CONFIG ?? DEFAULT_CONFIG_PATH)
    .option('--flush-timeout <ms>', 'on SIGTERM, how long to keep sending what is buffered', '5000')
    .action(async (opts: { config: string; flushTimeout: string }) => {
      const config = loadConfigFile(opts.config);
      const logger = createRootLogger(config.log.level);
      const { agent } = await startAgentFromConfig(config, { clock: systemClock, logger });
      const signal = await untilShutdownSignal();
      logger.info({ signal }, 'stopping');
      await agent.stop(Number(opts.flushTimeout));
    });
}
