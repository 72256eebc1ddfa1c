import { readFileSync } from 'node:fs';
import { systemClock } from '../../core/clock.js';
import { errorMessage, isEdgeError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import { loadConfigFile } from '../../config/load.js';
import type { AgentConfig } from '../../config/schema.js';
import { startAgentFromConfig } from '../../runtime/build-agent.js';
import type { EdgeAgent } from '../../runtime/edge-agent.js';
import type { DiagnosticsContext, TwinView } from '../../diagnostics/context.js';
import { defaultSocketPath } from '../../diagnostics/client.js';
import { LogControl } from '../../diagnostics/log-control.js';
import { PipelineHealth } from '../../systemd/health.js';
import { SystemdNotifier } from '../../systemd/notify.js';
import { agentVersion } from '../../core/version.js';
import { untilShutdownSignal } from '../shutdown.js';

/** How often and how long a start waits for a buffer lock still held by a previous run. */
const LOCK_RETRIES = 5;
const LOCK_RETRY_FIRST_MS = 250;
/** Beyond the flush timeout, how long a start may still take once SIGTERM has come. */
const START_AFTER_SIGTERM_MS = 2000;

export interface RunOptions {
  config: string;
  flushTimeoutMs: number;
  socket?: string | undefined;
}

/** `edge-agent run` once its flags are checked: the agent, its diagnostics faces, until SIGTERM. */
export async function runAgent(opts: RunOptions): Promise<void> {
  const { flushTimeoutMs } = opts;
  // Listening from the start: a SIGTERM that comes while the agent starts (systemd, a test that
  // saw the ready line) stops it cleanly once it is up, instead of Node's default killing it.
  const shutdown = untilShutdownSignal();
  const config = loadConfigFile(opts.config);
  const logs = new LogControl(config.log.level);
  const logger = logs.logger;
  const notifier = new SystemdNotifier(logger.child({ module: 'systemd' }));
  // SIGTERM is always honoured: a start that has not finished by then gets a bounded time.
  let starting = true;
  void shutdown.then((signal) => {
    if (!starting) return;
    setTimeout(() => {
      logger.error({ signal, waitedMs: flushTimeoutMs + START_AFTER_SIGTERM_MS }, 'the start did not finish after the stop signal; exiting');
      process.exit(signal === 'SIGINT' ? 130 : 143);
    }, flushTimeoutMs + START_AFTER_SIGTERM_MS).unref();
  });
  const started = await startRetryingLock(() => startAgentFromConfig(config, { clock: systemClock, logger }), logger, shutdown);
  starting = false;
  if (started === 'stopped') {
    logger.info('stopped while waiting for the buffer lock; nothing was started');
    return;
  }
  const running: { agent: EdgeAgent; twin?: TwinView } = started;
  const { agent } = running;
  const health = new PipelineHealth(() => agent.stats(), systemClock);
  const stopFaces: Array<() => Promise<void>> = [];
  try {
    const ctx: DiagnosticsContext = {
      agent,
      version: agentVersion(),
      clock: systemClock,
      fileConfig: config,
      fileDocument: readDocument(opts.config),
      filePath: opts.config,
      ...(running.twin ? { twin: running.twin } : {}),
      logs,
      health: () => health.check(),
    };
    await startFaces(config, ctx, opts.socket, logger, stopFaces);
  } catch (err) {
    await agent.stop(0);
    throw err;
  }
  await notifier.ready(`running: ${config.drivers.length} driver(s), buffer in ${config.dataDir}`);
  const watchdog = notifier.startWatchdog(() => health.check());

  const signal = await shutdown;
  const t0 = Date.now();
  logger.info({ signal }, 'stopping');
  void notifier.stopping('stopping: flushing the buffer and closing the store');
  watchdog.stop();
  for (const stop of stopFaces) await stop().catch((err: unknown) => logger.warn({ err: errorMessage(err) }, 'a diagnostics face did not close cleanly'));
  // Drivers stop first, the journal is moved through the pipeline (analytics state committed
  // with it), the forwarder gets flushTimeoutMs, then transport and store close.
  await agent.stop(flushTimeoutMs);
  const final = agent.stats();
  logger.info({ ms: Date.now() - t0, readings: final.readings, outbox: final.outboxDepth, nextSeq: final.nextSeq }, 'stopped');
  // Everything is closed; if a stray handle still holds the loop, do not wait for SIGKILL.
  setTimeout(() => {
    logger.warn({ handles: process.getActiveResourcesInfo() }, 'a handle kept the process alive after stopping; exiting');
    process.exit(process.exitCode ?? 0);
  }, 2000).unref();
}

/** The socket server and the Prometheus endpoint (prom-client) are loaded only when configured. */
async function startFaces(config: AgentConfig, ctx: DiagnosticsContext, socketOption: string | undefined, logger: Logger, stops: Array<() => Promise<void>>): Promise<void> {
  const d = config.diagnostics;
  if (d.enabled) {
    const { DiagnosticsServer } = await import('../../diagnostics/server.js');
    const socketPath = socketOption ?? d.socketPath ?? defaultSocketPath({ ...process.env, EDGE_AGENT_SOCKET: undefined });
    const server = await DiagnosticsServer.start({ socketPath, ...(d.group ? { group: d.group } : {}), context: ctx, logger: logger.child({ module: 'diagnostics' }) });
    stops.push(() => server.close());
  }
  if (d.prometheus) {
    const { startMetricsServer } = await import('../../diagnostics/metrics.js');
    const metrics = await startMetricsServer(ctx, { host: d.prometheus.host, port: d.prometheus.port, logger: logger.child({ module: 'diagnostics' }) });
    stops.push(metrics.close);
  }
}

/**
 * After a crash or a quick restart the previous process may still hold the LevelDB lock for a
 * moment (systemd's restart storm): retry a few times before giving up with EDGE_STORE_LOCKED.
 */
async function startRetryingLock<T>(start: () => Promise<T>, logger: Logger, shutdown: Promise<unknown>): Promise<T | 'stopped'> {
  let stop = false;
  void shutdown.then(() => (stop = true));
  for (let attempt = 0; ; attempt++) {
    try {
      return await start();
    } catch (err) {
      if (!isEdgeError(err, 'EDGE_STORE_LOCKED') || attempt >= LOCK_RETRIES) throw err;
      if (stop) return 'stopped';
      const ms = LOCK_RETRY_FIRST_MS * 2 ** attempt;
      logger.warn({ attempt: attempt + 1, retryInMs: ms }, 'the buffer is still locked (a previous run exiting?); retrying');
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([new Promise((resolve) => (timer = setTimeout(resolve, ms))), shutdown]);
      clearTimeout(timer);
      if (stop) return 'stopped';
    }
  }
}

function readDocument(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    return {};
  }
}
