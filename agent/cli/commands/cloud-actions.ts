// What `edge-agent cloud run | results | gaps` do. ./cloud.ts registers the commands and loads
// this file only when one of them runs: it brings the reconciler's stores (better-sqlite3, pg).
import { EdgeError } from '../../core/errors.js';
import { createRootLogger } from '../../core/logger.js';
import { openMessageLogReader } from '../../../cloud/iothub/index.js';
import {
  BacklogFilesSource,
  CombinedSource,
  EventHubsSource,
  MessageLogSource,
  dataDirFileLister,
  Reconciler,
  contiguousSeq,
  dataDirMethodInvoker,
  openStore,
  parseResultFilter,
  startHttpApi,
  type GapRow,
  type MethodInvoker,
  type ReconcilerSource,
  type ResultRow,
} from '../../../cloud/reconciler/index.js';

interface StoreFlag {
  store: string;
}

export interface RunFlags extends StoreFlag {
  hubDataDir?: string;
  eventHubs?: string;
  consumerGroup?: string;
  httpPort?: string;
  once?: boolean;
  batchSize?: string;
  resendGraceMs?: string;
  skewThresholdMs?: string;
  pollMs?: string;
}

export interface ResultsFlags extends StoreFlag {
  device?: string;
  query?: string;
  from?: string;
  to?: string;
  limit?: string;
  json?: boolean;
}

export interface GapsFlags extends StoreFlag {
  json?: boolean;
  open?: boolean;
}

function intFlag(value: string | undefined, name: string, min: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < min) throw new EdgeError('EDGE_USAGE', `${name} must be an integer ≥ ${min}, got "${value}"`);
  return n;
}

export async function runService(flags: RunFlags): Promise<void> {
  if ((flags.hubDataDir === undefined) === (flags.eventHubs === undefined)) {
    throw new EdgeError('EDGE_USAGE', 'give exactly one input: --hub-data-dir DIR (local emulator) or --event-hubs CONNECTION_STRING');
  }
  const httpPort = intFlag(flags.httpPort, '--http-port', 0);
  const batchSize = intFlag(flags.batchSize, '--batch-size', 1)!;
  const graceMs = intFlag(flags.resendGraceMs, '--resend-grace-ms', 0)!;
  const skewThresholdMs = intFlag(flags.skewThresholdMs, '--skew-threshold-ms', 0)!;
  const pollMs = intFlag(flags.pollMs, '--poll-ms', 1)!;

  const closers: Array<() => Promise<void>> = [];
  const closeAll = async () => {
    for (const close of closers.reverse()) await close().catch(() => undefined);
  };
  try {
    let source: ReconcilerSource;
    let methods: MethodInvoker | undefined;
    if (flags.hubDataDir !== undefined) {
      const reader = await openMessageLogReader(flags.hubDataDir);
      closers.push(() => reader.close());
      // Backlog files the devices uploaded count like their messages (same dedup by device and seq).
      source = new CombinedSource(new MessageLogSource(reader), new BacklogFilesSource(dataDirFileLister(flags.hubDataDir)));
      methods = dataDirMethodInvoker(flags.hubDataDir);
    } else {
      // Resend through Azure needs the azure-iothub service client, which this build does not carry: gaps are listed, not requested.
      source = new EventHubsSource({ connectionString: flags.eventHubs!, consumerGroup: flags.consumerGroup });
    }
    closers.push(() => source.close());
    const store = openStore(flags.store);
    closers.push(() => store.close());
    await store.migrate();

    const reconciler = new Reconciler({
      source,
      store,
      methods,
      batchSize,
      skewThresholdMs,
      pollMs,
      resend: { graceMs },
      // JSON lines on stdout for the service (journald); with --once stdout carries the summary, so logs go to stderr.
      logger: createRootLogger(logLevel(process.env.EDGE_LOG_LEVEL), flags.once ? process.stderr : undefined).child({ module: 'reconciler' }),
    });

    if (flags.once) {
      const summary = await reconciler.runOnce();
      const c = await reconciler.counters();
      process.stdout.write(
        `events=${summary.events} accepted=${summary.accepted} duplicates=${summary.duplicates} rejected=${summary.rejected} rejectedRecords=${summary.rejectedRecords} ` +
          `resendRequests=${summary.resendRequests} reconciledRows=${c.reconciledRows} openGaps=${c.openGaps} lostRecords=${c.lostRecords}\n`,
      );
      return;
    }

    if (httpPort !== undefined) {
      const api = await startHttpApi(store, { port: httpPort });
      closers.push(() => api.close());
      process.stderr.write(`edge-agent cloud: HTTP API on ${api.url} (/results, /gaps, /devices)\n`);
    }
    process.stderr.write(`edge-agent cloud: reconciling ${source.id} into ${store.kind} (${flags.store})\n`);
    reconciler.start();
    await new Promise<void>((resolve) => {
      process.once('SIGINT', () => resolve());
      process.once('SIGTERM', () => resolve());
    });
    await reconciler.stop();
    const c = await reconciler.counters();
    process.stderr.write(`edge-agent cloud: stopped; reconciledRows=${c.reconciledRows} openGaps=${c.openGaps} lostRecords=${c.lostRecords}\n`);
  } finally {
    await closeAll();
  }
}

export async function printResults(flags: ResultsFlags): Promise<void> {
  const filter = parseResultFilter(flags);
  const store = openStore(flags.store, { mustExist: true });
  try {
    await store.migrate();
    const rows = await store.results(filter);
    if (flags.json) return write(JSON.stringify(rows) + '\n');
    write(
      table(
        ['DEVICE', 'QUERY', 'OUT', 'KEY', 'WINDOW START', 'WINDOW END', 'REV', 'ROW'],
        rows.map((r: ResultRow) => [r.device, r.query, r.out, r.key, r.ws === null ? '-' : iso(r.ws), iso(r.we), String(r.rev), JSON.stringify(r.row)]),
      ),
    );
  } finally {
    await store.close();
  }
}

export async function printGaps(flags: GapsFlags): Promise<void> {
  const store = openStore(flags.store, { mustExist: true });
  try {
    await store.migrate();
    const gaps = (await store.gaps()).filter((g) => !flags.open || g.state === 'open');
    if (flags.json) return write(JSON.stringify(gaps) + '\n');
    const devices = new Map((await store.devices()).map((d) => [d.device, d]));
    write(
      table(
        ['DEVICE', 'FROM SEQ', 'TO SEQ', 'SIZE', 'STATE', 'OPENED', 'REQUESTS', 'CLOSED', 'CONTIGUOUS TO'],
        gaps.map((g: GapRow) => {
          const d = devices.get(g.device);
          return [
            g.device,
            String(g.from),
            String(g.to),
            String(g.size),
            g.state,
            iso(g.openedAt),
            String(g.attempts),
            g.closedAt === null ? '-' : iso(g.closedAt),
            d ? String(contiguousSeq(d.gaps, d.maxSeq)) : '-',
          ];
        }),
      ),
    );
  } finally {
    await store.close();
  }
}

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

function logLevel(value: string | undefined): (typeof LEVELS)[number] {
  return LEVELS.find((l) => l === value) ?? 'info';
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** Left-aligned columns, two spaces apart; an empty result says so instead of printing a bare header. */
function table(head: string[], rows: string[][]): string {
  if (rows.length === 0) return '(none)\n';
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
  return [line(head), ...rows.map(line)].join('\n') + '\n';
}

function write(text: string): void {
  process.stdout.write(text);
}
