#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { agentVersion } from '../core/version.js';
import { EXIT_USAGE, reportError } from './exit.js';
import { registerReplay } from './commands/replay.js';
import { registerModbus } from './commands/modbus.js';
import { registerCloud } from './commands/cloud.js';
import { registerHub } from './commands/hub.js';
import { registerRun } from './commands/run.js';
import { registerDemo } from './commands/demo.js';
import { registerStatus } from './commands/status.js';
import { registerSensors } from './commands/sensors.js';
import { registerBuffer } from './commands/buffer.js';
import { registerConfig } from './commands/config.js';
import { registerConfigCheck } from './commands/config-check.js';
import { registerTwin } from './commands/twin.js';
import { registerLogs } from './commands/logs.js';
import { registerSendTest } from './commands/send-test.js';
import { exitQuietlyOnEpipe } from './epipe.js';
import { ENVIRONMENT_HELP } from './help.js';

/**
 * Each command lives in its own file under ./commands and adds itself here. Registering is cheap:
 * a command loads its implementation with `await import()` when its action runs, so `run` does
 * not pay memory for the hub emulator, the reconciler or the demo.
 */
const registrations: Array<(program: Command) => void> = [registerRun, registerDemo, registerReplay, registerModbus, registerHub, registerCloud, registerStatus, registerSensors, registerBuffer, registerConfig, registerConfigCheck, registerTwin, registerLogs, registerSendTest];

export function buildProgram(): Command {
  const program = new Command('edge-agent')
    .description('Industrial IoT gateway agent: sensors → durable buffer → event-time analytics → Azure IoT Hub')
    .version(agentVersion(), '-V, --version')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .addHelpText('after', ENVIRONMENT_HELP);
  for (const register of registrations) register(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version end here too; commander has already printed them.
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return 0;
      return EXIT_USAGE;
    }
    return reportError(err);
  }
}

exitQuietlyOnEpipe();
main(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.exitCode = reportError(err);
  },
);
