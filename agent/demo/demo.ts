import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { systemClock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import { decodeWireMessage } from '../core/wire.js';
import { parseConfig } from '../config/load.js';
import { startAgentFromConfig } from '../runtime/build-agent.js';
import type { AgentStats } from '../runtime/edge-agent.js';
import { IotHubEmulator, type HubEvent } from '../../cloud/iothub/index.js';
import { startTcpDemoSimulator } from '../../drivers/index.js';

export const DEMO_DEVICE_ID = 'demo-gateway';

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
}

export interface DemoSummary {
  readings: number;
  messagesAcked: number;
  recordsAcked: number;
  recordsInHub: number;
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
  mkdirSync(dataDir, { recursive: true });
  const started = clock.now();

  const hub = await IotHubEmulator.start({ dataDir: hubDir, port: options.hubPort ?? 0, logger: options.logger });
  const cleanups: Array<() => Promise<unknown>> = [() => hub.stop()];
  try {
    const device = hub.getDevice(DEMO_DEVICE_ID) ?? (await hub.registerDevice(DEMO_DEVICE_ID));
    const caFile = join(dataDir, 'hub-ca.pem');
    writeFileSync(caFile, hub.caPem);
    const seen = new Set<number>();
    const countRecords = (event: HubEvent) => {
      if (event.deviceId !== DEMO_DEVICE_ID) return;
      for (const r of decodeWireMessage(event.body, event.systemProperties['content-encoding']).records) seen.add(r.seq);
    };
    hub.on('telemetry', countRecords);

    const sim = await startTcpDemoSimulator({ registers: options.registers ?? 10, pollMs: options.pollMs ?? 500 });
    cleanups.unshift(() => sim.close());
    const config = parseConfig(
      {
        hub: { connectionString: device.connectionString, caFile },
        dataDir: agentDir,
        drivers: [{ type: 'modbus', ...sim.driverConfig }],
        forwarding: { lingerMs: 1000 },
      },
      'demo config',
    );
    const { agent } = await startAgentFromConfig(config, { clock, logger: options.logger });

    await new Promise<void>((resolve) => {
      const tick = setInterval(() => options.onTick?.({ elapsedMs: clock.now() - started, stats: agent.stats(), recordsInHub: seen.size }), 1000);
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
    return {
      readings: stats.readings,
      messagesAcked: stats.forwarder.messagesAcked,
      recordsAcked: stats.forwarder.recordsAcked,
      recordsInHub: await recordsInLog(hub, DEMO_DEVICE_ID, stats.boot),
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

/** Distinct records of this run (boot) of the device, counted from the hub's message log itself. */
async function recordsInLog(hub: IotHubEmulator, deviceId: string, boot: string): Promise<number> {
  const seqs = new Set<number>();
  const log = hub.messageLog;
  for (let p = 0; p < log.partitionCount; p++) {
    for (const event of await log.read(p, 0, Number.MAX_SAFE_INTEGER)) {
      if (event.deviceId !== deviceId) continue;
      const message = decodeWireMessage(event.body, event.systemProperties['content-encoding']);
      if (message.boot === boot) for (const r of message.records) seqs.add(r.seq);
    }
  }
  return seqs.size;
}
