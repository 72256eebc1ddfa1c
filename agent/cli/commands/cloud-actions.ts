// What `edge-agent cloud run | results | gaps` do. ./cloud.ts registers the commands and loads
// this file only when one of them runs: it brings the reconciler's stores (better-sqlite3, pg).
import { EdgeError } from '../../core/errors.js';
import { createRootLogger } from '../../core/logger.js';
import { parseDuration } from '../duration.js';
import { openMessageLogReader } from '../../../cloud/iothub/index.js';
import {
  BacklogFilesSource,
  CombinedSource,
  EventHubsSource,
  MessageLogSource,
  azureContainerLister,
  checkFilesContainer,
  dataDirFileLister,
  filesContainerClient,
  Reconciler,
  contiguousSeq,
  dataDirMethodInvoker,
  openStore,
  ownershipFor,
  parseResultFilter,
  startHttpApi,
  type FilesContainerAddress,
  type GapRow,
  type MethodInvoker,
  type ReconcilerSource,
  type ReconcilerStore,
  type ResultRow,
} from '../../../cloud/reconciler/index.js';

interface StoreFlag {
  store: string;
}

export interface RunFlags extends StoreFlag {
  hubDataDir?: string;
  eventHubs?: string;
  consumerGroup?: string;
  /** Backlog files in Azure Blob Storage, beside --event-hubs: the storage account's connection string and container, or a container SAS URL. */
  filesStorage?: string;
  filesContainer?: string;
  filesContainerUrl?: string;
  filesSettle?: string;
  httpPort?: string;
  httpHost?: string;
  once?: boolean;
  batchSize?: string;
  resendGrace?: string;
  skewThreshold?: string;
  poll?: string;
  allowedLateness?: string;
  /** Old names of the three above (hidden): when given, they win over the defaults. */
  resendGraceMs?: string;
  skewThresholdMs?: string;
  pollMs?: string;
  /** The name `--allowed-lateness` had when it took milliseconds only (hidden). */
  allowedLatenessMs?: string;
  /** How often `catching up` is logged while behind. */
  progressEvery?: string;
}

export interface ResultsFlags extends StoreFlag {
  device?: string;
  query?: string;
  from?: string;
  to?: string;
  limit?: string;
  json?: boolean;
  view?: boolean;
  out?: string;
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
  const graceMs = flags.resendGraceMs !== undefined ? parseDuration(flags.resendGraceMs, '--resend-grace-ms') : parseDuration(flags.resendGrace ?? '60s', '--resend-grace');
  const skewThresholdMs = flags.skewThresholdMs !== undefined ? parseDuration(flags.skewThresholdMs, '--skew-threshold-ms') : parseDuration(flags.skewThreshold ?? '5m', '--skew-threshold');
  const pollMs = flags.pollMs !== undefined ? parseDuration(flags.pollMs, '--poll-ms', { min: 1 }) : parseDuration(flags.poll ?? '1s', '--poll', { min: 1 });
  const allowedLatenessMs = flags.allowedLatenessMs !== undefined ? parseDuration(flags.allowedLatenessMs, '--allowed-lateness-ms') : parseDuration(flags.allowedLateness ?? '0', '--allowed-lateness');
  const files = filesAddress(flags);
  const settleMs = parseDuration(flags.filesSettle ?? '5s', '--files-settle');

  const closers: Array<() => Promise<void>> = [];
  const closeAll = async () => {
    for (const close of closers.reverse()) await close().catch(() => undefined);
  };
  try {
    let source: ReconcilerSource;
    let eventHubs: EventHubsSource | undefined;
    let filesNote = '';
    let methods: MethodInvoker | undefined;
    if (flags.hubDataDir !== undefined) {
      const reader = await openMessageLogReader(flags.hubDataDir);
      closers.push(() => reader.close());
      // Backlog files the devices uploaded count like their messages (same dedup by device and seq).
      source = new CombinedSource(new MessageLogSource(reader), new BacklogFilesSource(dataDirFileLister(flags.hubDataDir)));
      methods = dataDirMethodInvoker(flags.hubDataDir);
    } else {
      // Checked before anything opens: a wrong key or container name ends here, in one line.
      const container = files ? filesContainerClient(files) : undefined;
      if (container) await checkFilesContainer(container);
      // Resend through Azure needs the azure-iothub service client, which this build does not carry: gaps are listed, not requested.
      // Ownership beside the rows: instances on one PostgreSQL share the partitions.
      const ownership = ownershipFor(flags.store);
      eventHubs = new EventHubsSource({ connectionString: flags.eventHubs!, consumerGroup: flags.consumerGroup, ownership });
      source = eventHubs;
      if (container) {
        const hub = eventHubs;
        // Shared ownership: one instance reads the files, the one holding partition 0 (a drain with --once reads them itself).
        const readWhile = ownership && !flags.once ? async () => (await hub.partitionIds()).includes('0') : undefined;
        // The same dedup by (device, seq) as messages: a record sent both ways counts once.
        source = new CombinedSource(eventHubs, new BacklogFilesSource(azureContainerLister(container, { settleMs }), readWhile ? { readWhile } : {}));
        filesNote = ` and backlog files in container ${container.containerName}`;
      }
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
      allowedLatenessMs,
      progressIntervalMs: parseDuration(flags.progressEvery ?? '10s', '--progress-every', { min: 1 }),
      resend: { graceMs },
      // JSON lines on stdout for the service (journald); with --once stdout carries the summary, so logs go to stderr.
      logger: createRootLogger(logLevel(process.env.EDGE_LOG_LEVEL), flags.once ? process.stderr : undefined).child({ module: 'reconciler' }),
    });

    if (flags.once) {
      // A push source delivers over time: drain up to where the hub's partitions end now.
      const summary = eventHubs ? await reconciler.drainTo(await eventHubs.ends(), eventHubs.arrived) : await reconciler.runOnce();
      const c = await reconciler.counters();
      process.stdout.write(
        `events=${summary.events} accepted=${summary.accepted} duplicates=${summary.duplicates} rejected=${summary.rejected} rejectedRecords=${summary.rejectedRecords} ` +
          `resendRequests=${summary.resendRequests} reconciledRows=${c.reconciledRows} openGaps=${c.openGaps} lostRecords=${c.lostRecords}\n`,
      );
      return;
    }

    if (httpPort !== undefined) {
      const api = await startHttpApi(store, { port: httpPort, ...(flags.httpHost ? { host: flags.httpHost } : {}), counters: () => reconciler.counters(), lag: () => reconciler.lag() });
      closers.push(() => api.close());
      process.stderr.write(`edge-agent cloud: HTTP API on ${api.url} (/results, /gaps, /devices, /metrics)\n`);
    }
    process.stderr.write(`edge-agent cloud: reconciling ${source.id}${filesNote} into ${store.kind} (${flags.store})\n`);
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

/**
 * Where the backlog files are in Azure, from the `--files-…` flags: a connection string (the flag,
 * else $AZURE_STORAGE_CONNECTION_STRING) with a container name, or a container SAS URL. Only beside
 * --event-hubs: the emulator keeps its files in its data dir, which --hub-data-dir reads already.
 */
function filesAddress(flags: RunFlags): FilesContainerAddress | undefined {
  const { filesStorage, filesContainer, filesContainerUrl } = flags;
  if (filesStorage === undefined && filesContainer === undefined && filesContainerUrl === undefined) return undefined;
  if (flags.eventHubs === undefined) {
    throw new EdgeError('EDGE_USAGE', "--files-container, --files-container-url and --files-storage go with --event-hubs (with --hub-data-dir the emulator's backlog files are read from its data dir)");
  }
  if (filesContainerUrl !== undefined) {
    if (filesStorage !== undefined || filesContainer !== undefined) throw new EdgeError('EDGE_USAGE', 'give --files-container-url URL, or --files-container NAME with --files-storage, not both');
    return { containerUrl: filesContainerUrl };
  }
  if (filesContainer === undefined) throw new EdgeError('EDGE_USAGE', '--files-storage needs --files-container NAME (the container IoT Hub file upload writes to)');
  const connectionString = filesStorage ?? process.env.AZURE_STORAGE_CONNECTION_STRING;
  if (!connectionString) throw new EdgeError('EDGE_USAGE', '--files-container needs the storage account: --files-storage CONNECTION_STRING or $AZURE_STORAGE_CONNECTION_STRING');
  return { connectionString, container: filesContainer };
}

export async function printResults(flags: ResultsFlags): Promise<void> {
  const filter = parseResultFilter(flags);
  const store = openStore(flags.store, { mustExist: true });
  try {
    await store.migrate();
    if (flags.view) return await printView(store, flags, filter);
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

/** `results --query Q --view`: the query's SQL view, as a table (ISO times) or JSON. */
async function printView(store: ReconcilerStore, flags: ResultsFlags, bounds: { from?: number; to?: number }): Promise<void> {
  if (flags.query === undefined) throw new EdgeError('EDGE_USAGE', '--view needs --query NAME');
  const outs = ((await store.viewSpecs?.()) ?? []).filter((v) => v.query === flags.query).map((v) => v.out);
  const out = flags.out ?? (outs.length === 1 ? outs[0] : undefined);
  if (out === undefined) {
    throw new EdgeError('EDGE_USAGE', outs.length === 0 ? `no view for query '${flags.query}' yet (no results reconciled)` : `query '${flags.query}' has several outputs; pick one with --out: ${outs.join(', ')}`);
  }
  const filter: { device?: string; limit?: number } = {};
  if (flags.device !== undefined) filter.device = flags.device;
  const limit = intFlag(flags.limit, '--limit', 0);
  const bounded = bounds.from !== undefined || bounds.to !== undefined;
  // The store filters by device and limit only; window-end bounds apply here, before the limit.
  if (limit !== undefined && !bounded) filter.limit = limit;
  const view = await store.viewRows?.(flags.query, out, filter);
  if (!view) throw new EdgeError('EDGE_USAGE', `no view for query '${flags.query}' output '${out}'`);
  if (bounded) {
    const inside = (r: Record<string, unknown>) => {
      const we = r.window_end instanceof Date ? r.window_end.getTime() : Date.parse(String(r.window_end));
      return (bounds.from === undefined || we >= bounds.from) && (bounds.to === undefined || we <= bounds.to);
    };
    view.rows = view.rows.filter(inside).slice(0, limit ?? Infinity);
  }
  const cell = (v: unknown): string => (v === null || v === undefined ? '-' : v instanceof Date ? v.toISOString() : typeof v === 'object' ? JSON.stringify(v) : String(v));
  if (flags.json) return write(JSON.stringify(view.rows.map((r) => Object.fromEntries(view.columns.map((c) => [c, r[c] instanceof Date ? (r[c] as Date).toISOString() : r[c]])))) + '\n');
  write(table(view.columns.map((c) => c.toUpperCase()), view.rows.map((r) => view.columns.map((c) => cell(r[c])))));
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
