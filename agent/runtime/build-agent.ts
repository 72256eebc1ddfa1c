import { readFileSync } from 'node:fs';
import type { Clock } from '../core/clock.js';
import { EdgeError, errorMessage } from '../core/errors.js';
import type { Driver } from '../core/driver.js';
import type { Logger } from '../core/logger.js';
import type { AgentConfig } from '../config/schema.js';
import { parseDeviceConnectionString } from '../transport/connection-string.js';
import { IotHubTransport } from '../transport/iothub-transport.js';
import { createDrivers } from './drivers.js';
import { EdgeAgent } from './edge-agent.js';

/** Composes and starts an agent from a validated config: the one place that wires parts. */
export async function startAgentFromConfig(
  config: AgentConfig,
  deps: { clock: Clock; logger: Logger; extraDrivers?: Driver[] },
): Promise<{ agent: EdgeAgent; transport: IotHubTransport }> {
  const { deviceId } = parseDeviceConnectionString(config.hub.connectionString);
  let ca: string | undefined;
  if (config.hub.caFile) {
    try {
      ca = readFileSync(config.hub.caFile, 'utf8');
    } catch (cause) {
      throw new EdgeError('EDGE_CONFIG_INVALID', `hub.caFile ${config.hub.caFile} cannot be read: ${errorMessage(cause)}`, { cause });
    }
  }
  const transport = new IotHubTransport({
    connectionString: config.hub.connectionString,
    ...(ca ? { ca } : {}),
    ...config.forwarding,
    clock: deps.clock,
    logger: deps.logger.child({ module: 'transport' }),
  });
  const drivers = [...createDrivers(config.drivers, deps), ...(deps.extraDrivers ?? [])];
  const agent = await EdgeAgent.start({ config, deviceId, drivers, transport, clock: deps.clock, logger: deps.logger });
  return { agent, transport };
}
