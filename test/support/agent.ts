import { systemClock, type Clock } from '../../agent/core/clock.js';
import { silentLogger } from '../../agent/core/logger.js';
import { parseConfig } from '../../agent/config/load.js';
import type { AgentConfigInput } from '../../agent/config/schema.js';
import { EdgeAgent } from '../../agent/runtime/edge-agent.js';
import { IotHubTransport } from '../../agent/transport/iothub-transport.js';
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

/** An agent with a synthetic driver, talking through the real SDK. */
export async function startTestAgent(o: TestAgentOptions): Promise<{ agent: EdgeAgent; transport: IotHubTransport }> {
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
  const transport = new IotHubTransport({ connectionString: o.connectionString, ca: o.ca, ...config.forwarding, clock, logger: silentLogger });
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
