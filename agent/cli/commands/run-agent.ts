import { readFileSync } from 'node:fs';
import { systemClock } from '../../core/clock.js';
import { errorMessage } from '../../core/errors.js';
import { loadConfigFile } from '../../config/load.js';
import { startAgentFromConfig } from '../../runtime/build-agent.js';
import type { EdgeAgent } from '../../runtime/edge-agent.js';
import type { DiagnosticsContext, TwinView } from '../../diagnostics/context.js';
import { startFaces } from '../../diagnostics/faces.js';
import { startRetryingLock } from '../../runtime/lock-retry.js';
import { LogControl } from '../../diagnostics/log-control.js';
import { PipelineHealth } from '../../systemd/health.js';
import { SystemdNotifier } from '../../systemd/notify.js';
import { agentVersion } from '../../core/version.js';
import { untilShutdownSignal } from '../shutdown.js';
import { attachSupportMethods } from '../../support-bundle/attach.js';
import { EventLoopDelay } from '../../diagnostics/event-loop.js';

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
  const eventLoop = new EventLoopDelay();
  const stopFaces: Array<() => Promise<void>> = [async () => eventLoop.stop()];
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
      eventLoop: () => eventLoop.figures(),
    };
    attachSupportMethods({ ctx, link: started.transport, logger });
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

function readDocument(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    return {};
  }
}
