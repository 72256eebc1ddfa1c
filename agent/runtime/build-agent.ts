import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import type { Clock } from '../core/clock.js';
import { EdgeError, errorMessage } from '../core/errors.js';
import type { Driver } from '../core/driver.js';
import type { Logger } from '../core/logger.js';
import type { AgentConfig, DriverConfig } from '../config/schema.js';
import { loadLastGood, saveLastGood } from '../config/last-good.js';
import { overlayDesired, type JsonObject } from '../config/overlay.js';
import { parseDeviceConnectionString } from '../transport/connection-string.js';
import { ConnectionSupervisor } from '../transport/supervisor.js';
import { HubFileUpload } from '../transport/file-upload.js';
import { DesiredState } from '../twin/desired-state.js';
import { DesiredController, type ConfigSource } from '../twin/desired-controller.js';
import { ReportThrottle } from '../twin/report-throttle.js';
import { TwinSync } from '../twin/twin-sync.js';
import { healthSummary } from '../twin/health-summary.js';
import { methodHandlers } from '../methods/handlers.js';
import { bindMethods } from '../methods/bind-methods.js';
import { writePointMethod } from '../methods/write-point.js';
import { sendSpooledAudits } from '../methods/audit-spool.js';
import { reprovisionHandler } from '../methods/reprovision.js';
import { openProvisioner } from './provisioning.js';
import { agentVersion } from '../core/version.js';
import { createDrivers } from './drivers.js';
import { EdgeAgent } from './edge-agent.js';

/** A backlog file of up to `maxFileBytes` JSON, gzipped, over a slow cellular link. */
const BACKLOG_FILE_TIMEOUT_MS = 10 * 60_000;

export interface RunningAgent {
  agent: EdgeAgent;
  transport: ConnectionSupervisor;
  /** Desired-properties handling: the config in force, its `$version`, refusals. */
  twin: DesiredController;
  /** Reported-property updates the hub accepted (diagnostics, tests). */
  reported: EventEmitter<{ sent: [JsonObject] }>;
}

/**
 * Composes and starts an agent from a validated file config: the one place that wires parts.
 * The last good desired document (saved beside the buffer) is laid over the file at once, so a
 * box that boots offline runs what the twin last said; the twin then takes over once connected.
 */
export async function startAgentFromConfig(
  fileConfig: AgentConfig,
  deps: { clock: Clock; logger: Logger; extraDrivers?: Driver[] },
): Promise<RunningAgent> {
  const { clock, logger } = deps;
  // DPS provisioning (instead of a connection string) says where to connect, before every connect.
  const provisioner = await openProvisioner(fileConfig, deps);
  const deviceId = provisioner ? provisioner.deviceId : parseDeviceConnectionString(fileConfig.hub.connectionString!).deviceId;
  const { config, source, lastGood } = await bootConfig(fileConfig, logger);

  const transport = new ConnectionSupervisor({
    ...(provisioner ? { target: provisioner } : { connectionString: fileConfig.hub.connectionString! }),
    ...readCredentials(fileConfig),
    sas: fileConfig.hub.sas,
    sendTimeoutMs: config.forwarding.sendTimeoutMs,
    connectTimeoutMs: config.forwarding.connectTimeoutMs,
    keepAliveSeconds: config.forwarding.keepAliveSeconds,
    connection: config.connection,
    clock,
    logger: logger.child({ module: 'transport' }),
  });
  transport.events.on('history', (e) => logger.child({ module: 'transport' }).debug(e, 'connection event'));

  // Each running driver with the config it was built from, so a reconfigure keeps unchanged ones.
  const extras = deps.extraDrivers ?? [];
  let running = new Map<Driver, string>();
  const driversFor = async (configs: DriverConfig[], restart?: string): Promise<Driver[]> => {
    const next = new Map<Driver, string>();
    for (const c of configs) {
      const key = JSON.stringify(c);
      const keep = [...running].find(([d, k]) => k === key && !next.has(d) && d.name !== restart)?.[0];
      next.set(keep ?? (await createDrivers([c], deps))[0]!, key);
    }
    running = next;
    return [...next.keys(), ...extras];
  };

  const fileUploader = new HubFileUpload({
    link: transport,
    deviceId,
    ...(fileConfig.hub.caFile ? { ca: readFileSync(fileConfig.hub.caFile, 'utf8') } : {}),
    timeoutMs: BACKLOG_FILE_TIMEOUT_MS,
    clock,
    logger: logger.child({ module: 'file-upload' }),
  });
  const agent = await EdgeAgent.start({ config, deviceId, drivers: await driversFor(config.drivers), transport, clock, logger, fileUploader });
  // Writes made with `edge-agent modbus write` while no agent ran: their audit records go out now.
  await sendSpooledAudits(fileConfig.dataDir, (r) => agent.recordEvent(r.name, r.t, r.data), logger).catch((err: unknown) => logger.warn({ err: errorMessage(err) }, 'audit spool not sent; it is tried again at the next start'));

  const reported = new EventEmitter<{ sent: [JsonObject] }>();
  const throttle: ReportThrottle = new ReportThrottle({
    minIntervalMs: config.twin.reportMinIntervalMs,
    clock,
    logger: logger.child({ module: 'twin' }),
    send: (patch): Promise<void> => sync.sendReported(patch),
    onSent: (patch) => reported.emit('sent', patch),
  });
  const controller = new DesiredController({
    state: new DesiredState(fileConfig, lastGood),
    initial: { config, source },
    apply: async (next, previous) => {
      transport.configure({ ...next.forwarding, connection: next.connection });
      throttle.minIntervalMs = next.twin.reportMinIntervalMs;
      // The root logger's level; module loggers made before keep theirs until the next start.
      if (next.log.level !== previous.log.level) logger.level = next.log.level;
      await agent.reconfigure(next, await driversFor(next.drivers));
    },
    persist: (value) => saveLastGood(fileConfig.dataDir, value),
    report: (patch) => throttle.push(patch),
    resync: () => sync.resync(),
    clock,
    logger: logger.child({ module: 'twin' }),
  });
  const connectionSummary = () => {
    const s = transport.status();
    return { state: s.state, since: s.since, generation: s.generation, totals: s.totals, ...(s.lastError ? { lastError: s.lastError } : {}) };
  };
  const sync: TwinSync = new TwinSync({
    supervisor: transport,
    controller,
    throttle,
    agentInfo: () => ({ version: agentVersion(), boot: agent.boot, deviceId }),
    health: () => healthSummary(agent.stats(), connectionSummary(), clock.now()),
    healthIntervalMs: () => controller.config.twin.healthIntervalMs,
    clock,
    logger: logger.child({ module: 'twin' }),
  });
  // From the file only: a desired `twin.enabled: false` must not lock the twin out for good.
  if (fileConfig.twin.enabled) sync.start();
  transport.events.on('history', (e) => e.event === 'closed' && sync.stop());

  bindMethods(
    transport,
    methodHandlers({
      clock,
      agentVersion: agentVersion(),
      boot: () => agent.boot,
      startedAt: () => agent.stats().startedAt,
      health: () => ({ stats: agent.stats(), connection: { ...transport.status(), history: transport.history.list() }, config: controller.configStatus() }),
      resend: (fromSeq, toSeq) => agent.resend(fromSeq, toSeq),
      driverNames: () => [...running.keys()].map((d) => d.name),
      restartDriver: async (name) => {
        await agent.reconfigure(controller.config, await driversFor(controller.config.drivers, name));
        return agent.stats().drivers[name];
      },
    }),
    logger.child({ module: 'methods' }),
  );
  bindMethods(
    transport,
    writePointMethod({
      clock,
      logger: logger.child({ module: 'methods' }),
      driver: (name) => [...running.keys()].find((d) => d.name === name),
      driverNames: () => [...running.keys()].map((d) => d.name),
      audit: (name, t, data) => agent.recordEvent(name, t, data),
    }),
    logger.child({ module: 'methods' }),
  );
  const reprovision = reprovisionHandler({
    request: (reason) => {
      provisioner?.request(reason);
      return provisioner?.status();
    },
    reconnect: () => transport.reconnect('reprovisioning'),
  });
  bindMethods(transport, { reprovision }, logger.child({ module: 'methods' }));
  transport.start();
  return { agent, transport, twin: controller, reported };
}

/** The file config, or the file overlaid with the last good desired document when there is one. */
async function bootConfig(file: AgentConfig, logger: Logger): Promise<{ config: AgentConfig; source: ConfigSource; lastGood?: { version: number; desired: Record<string, unknown> } }> {
  const { value, problem } = await loadLastGood(file.dataDir);
  if (problem) logger.warn(problem);
  if (!value) return { config: file, source: 'file' };
  const result = overlayDesired(file, value.desired, { maxBytes: file.twin.maxDesiredBytes });
  if (!result.ok) {
    logger.warn({ version: value.version, path: result.reason.path, reason: result.reason.message }, 'the saved desired config no longer fits the file config; starting from the file');
    return { config: file, source: 'file' };
  }
  logger.info({ version: value.version }, 'starting with the last good desired config');
  return { config: result.config, source: 'last-good', lastGood: { version: value.version, desired: value.desired } };
}

function readCredentials(config: AgentConfig): { ca?: string; x509?: { cert: string; key: string; passphrase?: string } } {
  const read = (path: string, what: string): string => {
    try {
      return readFileSync(path, 'utf8');
    } catch (cause) {
      throw new EdgeError('EDGE_CONFIG_INVALID', `${what} ${path} cannot be read: ${errorMessage(cause)}`, { cause });
    }
  };
  const { x509 } = config.hub;
  const caFile = config.hub.caFile ?? config.provisioning?.caFile;
  return {
    ...(caFile ? { ca: read(caFile, 'hub.caFile') } : {}),
    ...(x509 ? { x509: { cert: read(x509.certFile, 'hub.x509.certFile'), key: read(x509.keyFile, 'hub.x509.keyFile'), ...(x509.passphrase ? { passphrase: x509.passphrase } : {}) } } : {}),
  };
}
