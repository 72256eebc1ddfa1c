import { Option, type Command } from 'commander';
import { withExamples } from '../help.js';
import type { GapsFlags, ResultsFlags, RunFlags } from './cloud-actions.js';

/**
 * The reconciler's DEFAULT_STORE_LOCATION, spelled out so that registering `cloud` (and `--help`)
 * does not load the reconciler's stores (better-sqlite3, pg); a test checks the two agree.
 */
const DEFAULT_STORE_LOCATION = 'sqlite:./reconciler.db';

/**
 * `edge-agent cloud …`: the reconciliation service and its read side.
 *   cloud run      read the hub (emulator data dir, or Event Hubs and the file-upload container), reconcile into the store, serve the HTTP API
 *   cloud results  print reconciled window results (aligned table, or --json)
 *   cloud gaps     print missing seq ranges: open (resend pending), lost (evicted) or rejected (malformed)
 */
export function registerCloud(program: Command): void {
  const cloud = program.command('cloud').description('cloud-side reconciliation: exactly-once results from at-least-once device traffic');
  const storeOption = ['--store <location>', 'sqlite:PATH or postgres://USER@HOST:PORT/DB', process.env.EDGE_RECONCILER_STORE ?? DEFAULT_STORE_LOCATION] as const;

  withExamples(cloud.command('run'), [
    'cloud run --hub-data-dir .data/hub --store sqlite:.data/reconciler.db --http-port 8090',
    'cloud run --hub-data-dir .data/hub --once',
    "cloud run --event-hubs 'Endpoint=sb://…;EntityPath=…' --store postgres://user@host/db --http-port 8090 --http-host 0.0.0.0",
    "cloud run --event-hubs 'Endpoint=sb://…' --files-container fileupload   (the account's connection string in $AZURE_STORAGE_CONNECTION_STRING)",
  ])
    .description('reconcile device messages into the store (until SIGINT/SIGTERM, or once with --once)')
    .option('--hub-data-dir <dir>', "read the local IoT Hub emulator's message log in this data dir")
    .option('--event-hubs <connection-string>', "read IoT Hub's Event Hub-compatible endpoint (Endpoint=sb://…;EntityPath=…)")
    .option('--consumer-group <name>', 'Event Hubs consumer group', '$Default')
    .option('--files-container <name>', "with --event-hubs: also read the backlog files devices uploaded, from this container (the one IoT Hub → File upload names)")
    .option('--files-storage <connection-string>', "the storage account of --files-container (its Access keys connection string; default $AZURE_STORAGE_CONNECTION_STRING, which keeps the key out of ps)")
    .option('--files-container-url <url>', 'instead of the two above: the container URL with a SAS that allows list and read (az storage container generate-sas --permissions lr)')
    .option('--files-settle <duration>', 'read a blob once it is this old (creation times have 1 s resolution; a younger blob could still be joined by one sorting before it)', '5s')
    .option(...storeOption)
    .option('--http-port <port>', 'serve the read-only HTTP JSON API and /metrics on PORT (0 = any free port)')
    .option('--http-host <address>', 'address the HTTP API listens on (no authentication: loopback unless you mean it)', '127.0.0.1')
    .option('--once', 'drain what is there now, print a summary and exit')
    .option('--batch-size <n>', 'messages per transaction', '500')
    .option('--resend-grace <duration>', 'how long a gap may stay open before the device is asked to resend (30s, 5m; a bare number is ms)', '60s')
    .option('--skew-threshold <duration>', 'flag a device whose application times run this far ahead of the hub (a bare number is ms)', '5m')
    .option('--poll <duration>', 'wait between passes once caught up (a bare number is ms)', '1s')
    // The names these had when they took milliseconds only; kept for scripts.
    .addOption(new Option('--resend-grace-ms <duration>').hideHelp())
    .addOption(new Option('--skew-threshold-ms <duration>').hideHelp())
    .addOption(new Option('--poll-ms <duration>').hideHelp())
    .option('--allowed-lateness <duration>', "how long after a window's end it may still be revised: the views' complete flag waits for it (a bare number is ms)")
    .addOption(new Option('--allowed-lateness-ms <duration>').hideHelp())
    .option('--progress-every <duration>', 'while behind, log lag per partition and catch-up progress this often (a bare number is ms)', '10s')
    .action(async (flags: RunFlags) => {
      const { runService } = await import('./cloud-actions.js');
      await runService(flags);
    });

  cloud
    .command('results')
    .description('print reconciled window results, latest revision of each')
    .option(...storeOption)
    .option('--device <id>', 'only this device')
    .option('--query <name>', 'only this query')
    .option('--from <time>', 'window end at or after (ISO 8601 or epoch ms)')
    .option('--to <time>', 'window end at or before (ISO 8601 or epoch ms)')
    .option('--limit <n>', 'at most this many rows')
    .option('--json', 'a JSON array instead of a table')
    .option('--view', "with --query: print the query's SQL view (a column per SELECT alias, ISO times, keys, complete)")
    .option('--out <name>', 'with --view: the INTO output, when the query has several')
    .action(async (flags: ResultsFlags) => {
      const { printResults } = await import('./cloud-actions.js');
      await printResults(flags);
    });

  cloud
    .command('gaps')
    .description('print missing seq ranges per device: open (resend pending), lost (evicted by the device) or rejected (arrived malformed)')
    .option(...storeOption)
    .option('--open', 'only gaps still open')
    .option('--json', 'a JSON array instead of a table')
    .action(async (flags: GapsFlags) => {
      const { printGaps } = await import('./cloud-actions.js');
      await printGaps(flags);
    });
}
