import { systemClock, type Clock } from '../../agent/core/clock.js';
import { silentLogger } from '../../agent/core/logger.js';
import { parseConfig } from '../../agent/config/load.js';
import type { AgentConfig, AgentConfigInput } from '../../agent/config/schema.js';
import { EdgeAgent } from '../../agent/runtime/edge-agent.js';
import { ConnectionSupervisor } from '../../agent/transport/supervisor.js';
import { SyntheticDriver } from '../../drivers/synthetic/synthetic-driver.js';

export interface TestAgentOptions {
  connectionString: string;
  deviceId: string;
  ca: string;
  dataDir: string;
  intervalMs?: number;
  points?: number;
  clock?: Clock;
  forwarding?: AgentConfigInput['forwarding'];
  storage?: AgentConfigInput['storage'];
}

/** The production transport (connection supervisor over the real SDK), tuned to reconnect fast. */
export function testTransport(connectionString: string, ca: string, config: AgentConfig, clock: Clock = systemClock): ConnectionSupervisor {
  return new ConnectionSupervisor({
    connectionString,
    ca,
    sas: config.hub.sas,
    sendTimeoutMs: config.forwarding.sendTimeoutMs,
    connectTimeoutMs: config.forwarding.connectTimeoutMs,
    keepAliveSeconds: config.forwarding.keepAliveSeconds,
    connection: { ...config.connection, reconnectInitialMs: 20, reconnectMaxMs: 100 },
    clock,
    logger: silentLogger,
  });
}

/** An agent with a synthetic driver, talking through the real SDK. */
export async function startTestAgent(o: TestAgentOptions): Promise<{ agent: EdgeAgent; transport: ConnectionSupervisor }> {
  const clock = o.clock ?? systemClock;
  const config = parseConfig(
    {
      hub: { connectionString: o.connectionString },
      dataDir: o.dataDir,
      forwarding: { lingerMs: 20, retryInitialMs: 50, retryMaxMs: 200, sendTimeoutMs: 5000, connectTimeoutMs: 5000, ...o.forwarding },
      ...(o.storage ? { storage: o.storage } : {}),
    },
    'test config',
  );
  const transport = testTransport(o.connectionString, o.ca, config, clock);
  const driver = new SyntheticDriver({
    name: 'synthetic',
    source: 'sim-1',
    intervalMs: o.intervalMs ?? 5,
    points: Array.from({ length: o.points ?? 3 }, (_, i) => ({ name: `p${i}`, unit: 'C' })),
    clock,
  });
  const agent = await EdgeAgent.start({ config, deviceId: o.deviceId, drivers: [driver], transport, clock, logger: silentLogger });
  return { agent, transport };
}
