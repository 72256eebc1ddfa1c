import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { systemClock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import { decodeWireMessage } from '../core/wire.js';
import { parseConfig } from '../config/load.js';
import { startAgentFromConfig } from '../runtime/build-agent.js';
import { makeDir } from '../store/make-dir.js';
import type { AgentStats } from '../core/agent-stats.js';
import { IotHubEmulator, type HubEvent } from '../../cloud/iothub/index.js';
import { hubMethodInvoker, MessageLogSource, Reconciler, SqliteStore } from '../../cloud/reconciler/index.js';
import { startTcpDemoSimulator } from '../../drivers/index.js';

export const DEMO_DEVICE_ID = 'demo-gateway';

/** The demo's analytics: a 5-second summary per point, on the readings' own time. */
export const DEMO_QUERY = {
  name: 'summary5s',
  query: `SELECT source, point, COUNT(*) AS n, AVG(value) AS avg, MIN(value) AS min, MAX(value) AS max
FROM readings TIMESTAMP BY appTime
GROUP BY source, point, TumblingWindow(second, 5)`,
};

export interface DemoOptions {
  /** Stop after this long; without it the demo runs until `stop` is aborted. */
  durationMs?: number;
  /** Keep everything here (reused across runs); default: a fresh temp dir. */
  dataDir?: string;
  /** MQTT/TLS port of the emulator; default: any free port. */
  hubPort?: number;
  /** Modbus registers polled per cycle and the poll period. */
  registers?: number;
  pollMs?: number;
  logger: Logger;
  /** Called about once a second with the live figures. */
  onTick?: (tick: DemoTick) => void;
  stop?: AbortSignal;
}

export interface DemoTick {
  elapsedMs: number;
  stats: AgentStats;
  recordsInHub: number;
  resultsInHub: number;
  reconciledRows: number;
}

export interface DemoSummary {
  readings: number;
  messagesAcked: number;
  recordsAcked: number;
  /** Reading records of this run found in the emulator's message log. */
  recordsInHub: number;
  /** Window results of this run found there. */
  resultsInHub: number;
  /** Rows in the reconciler's table (results and readings), and gaps it still waits on. */
  reconciledRows: number;
  openGaps: number;
  unitsBilled: number;
  bytesSent: number;
  outboxLeft: number;
  durationMs: number;
  dataDir: string;
}

/**
 * The whole product on one machine: a Modbus TCP simulator read by the agent's Modbus driver,
 * the agent's durable pipeline, and the local IoT Hub emulator reached through the real SDK.
 */
export async function runDemo(options: DemoOptions): Promise<DemoSummary> {
  const clock = systemClock;
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'edge-agent-demo-'));
  const hubDir = join(dataDir, 'hub');
  const agentDir = join(dataDir, 'agent');
  makeDir(dataDir);
  const started = clock.now();

  const hub = await IotHubEmulator.start({ dataDir: hubDir, port: options.hubPort ?? 0, logger: options.logger });
  const cleanups: Array<() => Promise<unknown>> = [() => hub.stop()];
  try {
    const device = hub.getDevice(DEMO_DEVICE_ID) ?? (await hub.registerDevice(DEMO_DEVICE_ID));
    const caFile = join(dataDir, 'hub-ca.pem');
    writeFileSync(caFile, hub.caPem);
    const seen = { reading: new Set<number>(), result: new Set<number>() };
    const countRecords = (event: HubEvent) => {
      if (event.deviceId !== DEMO_DEVICE_ID) return;
      for (const r of decodeWireMessage(event.body, event.systemProperties['content-encoding']).records) {
        if (r.kind === 'reading' || r.kind === 'result') seen[r.kind].add(r.seq);
      }
    };
    hub.on('telemetry', countRecords);

    const reconcilerStore = new SqliteStore(join(dataDir, 'reconciler.db'));
    const reconciler = new Reconciler({
      source: new MessageLogSource(hub.messageLog),
      store: reconcilerStore,
      methods: hubMethodInvoker(hub),
      logger: options.logger,
      pollMs: 500,
    });
    reconciler.start();
    cleanups.unshift(async () => {
      await reconciler.stop();
      await reconcilerStore.close();
    });
    let reconciledRows = 0;

    const sim = await startTcpDemoSimulator({ registers: options.registers ?? 10, pollMs: options.pollMs ?? 500 });
    cleanups.unshift(() => sim.close());
    const config = parseConfig(
      {
        hub: { connectionString: device.connectionString, caFile },
        dataDir: agentDir,
        drivers: [{ type: 'modbus', ...sim.driverConfig }],
        analytics: { queries: [DEMO_QUERY], tolerances: { lateArrivalMs: 5000, outOfOrderMs: 1000 } },
        forwarding: { lingerMs: 1000 },
      },
      'demo config',
    );
    const { agent } = await startAgentFromConfig(config, { clock, logger: options.logger });

    await new Promise<void>((resolve) => {
      const tick = setInterval(() => {
        void reconciler.counters().then((c) => (reconciledRows = c.reconciledRows), () => undefined);
        options.onTick?.({ elapsedMs: clock.now() - started, stats: agent.stats(), recordsInHub: seen.reading.size, resultsInHub: seen.result.size, reconciledRows });
      }, 1000);
      const end = () => {
        clearInterval(tick);
        if (timer) clearTimeout(timer);
        resolve();
      };
      const timer = options.durationMs !== undefined ? setTimeout(end, options.durationMs) : undefined;
      if (options.stop?.aborted) end();
      options.stop?.addEventListener('abort', end, { once: true });
    });

    await agent.stop(15_000);
    hub.off('telemetry', countRecords);
    const stats = agent.stats();
    const inLog = await recordsInLog(hub, DEMO_DEVICE_ID, stats.boot);
    await reconciler.stop();
    await reconciler.runOnce();
    const reconciled = await reconciler.counters();
    return {
      readings: stats.readings,
      messagesAcked: stats.forwarder.messagesAcked,
      recordsAcked: stats.forwarder.recordsAcked,
      recordsInHub: inLog.reading,
      resultsInHub: inLog.result,
      reconciledRows: reconciled.reconciledRows,
      openGaps: reconciled.openGaps,
      unitsBilled: stats.forwarder.unitsBilled,
      bytesSent: stats.forwarder.bytesAcked,
      outboxLeft: stats.outboxDepth,
      durationMs: clock.now() - started,
      dataDir,
    };
  } finally {
    for (const c of cleanups) await c().catch(() => undefined);
  }
}

/** Distinct records of this run (boot) of the device, by kind, counted from the hub's message log itself. */
async function recordsInLog(hub: IotHubEmulator, deviceId: string, boot: string): Promise<{ reading: number; result: number }> {
  const seqs = { reading: new Set<number>(), result: new Set<number>() };
  const log = hub.messageLog;
  for (let p = 0; p < log.partitionCount; p++) {
    for (const event of await log.read(p, 0, Number.MAX_SAFE_INTEGER)) {
      if (event.deviceId !== deviceId) continue;
      const message = decodeWireMessage(event.body, event.systemProperties['content-encoding']);
      if (message.boot !== boot) continue;
      for (const r of message.records) if (r.kind === 'reading' || r.kind === 'result') seqs[r.kind].add(r.seq);
    }
  }
  return { reading: seqs.reading.size, result: seqs.result.size };
}
