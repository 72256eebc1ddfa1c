import type { Command } from 'commander';

/** What `edge-agent --help` says about the environment, after the commands. */
export const ENVIRONMENT_HELP = `
Environment:
  EDGE_AGENT_CONFIG         config file of 'run' (default $CONFIGURATION_DIRECTORY/config.json, else /etc/edge-agent/config.json)
  EDGE_AGENT_SOCKET         diagnostics socket the status/logs/… commands use (default $RUNTIME_DIRECTORY/diagnostics.sock)
  EDGE_LOG_LEVEL            log level of 'cloud run' (the agent's is log.level in its config)
  EDGE_LOG_SYSLOG_PREFIX    1: put the journal's <N> priority before each log line; 0: never (default: when stdout is the journal, JOURNAL_STREAM)
  EDGE_RECONCILER_STORE     default --store of the 'cloud' commands
  AZURE_STORAGE_CONNECTION_STRING  default --files-storage of 'cloud run' (the storage account of --files-container)
  EDGE_DEBUG                1: print the stack trace of an error
  NO_COLOR                  no colours, even on a terminal

Durations: 500ms, 10s, 5m, 1h (a bare number is milliseconds).
`;

/** Adds `Examples:` to a command's --help, one `$ edge-agent …` line each. */
export function withExamples(cmd: Command, examples: string[]): Command {
  return cmd.addHelpText('after', `\nExamples:\n${examples.map((e) => `  $ edge-agent ${e}`).join('\n')}\n`);
}
