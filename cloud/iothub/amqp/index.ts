import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Clock } from '../../../agent/core/clock.js';
import type { Logger } from '../../../agent/core/logger.js';
import { readJsonFile, writeFileAtomic } from '../atomic-file.js';
import type { MessageLogReader } from '../hub-event.js';
import { AmqpEventHubEndpoint } from './endpoint.js';
import { loadPolicies } from './policies.js';

export { AmqpEventHubEndpoint } from './endpoint.js';
export { loadPolicies, eventHubsConnectionString, type SharedAccessPolicy, type HubPolicies } from './policies.js';

/** IoT Hub names the built-in endpoint's Event Hub `iothub-ehub-<hub>-…`; this emulator has one hub. */
export const DEFAULT_EVENT_HUB_NAME = 'iothub-ehub-edge-emulator';
export const DEFAULT_CONSUMER_GROUPS: readonly string[] = ['$Default'];

/** `event-hubs.json` in the data dir while the endpoint runs: how other processes find it. */
export interface EventHubsRuntimeInfo {
  port: number;
  hubName: string;
  consumerGroups: string[];
  /** For the `service` policy. */
  connectionString: string;
}

function runtimePath(dataDir: string): string {
  return join(dataDir, 'event-hubs.json');
}

export interface StartEventHubsOptions {
  dataDir: string;
  log: MessageLogReader;
  port: number;
  host: string;
  hubName?: string;
  consumerGroups?: readonly string[];
  clock: Clock;
  logger: Logger;
}

/** Loads (or creates) the hub's policies, starts the AMQP endpoint and writes `event-hubs.json`. */
export async function startEventHubsEndpoint(options: StartEventHubsOptions): Promise<AmqpEventHubEndpoint> {
  const { policies, createdAt } = await loadPolicies(options.dataDir, options.clock.now());
  const consumerGroups = [...(options.consumerGroups ?? DEFAULT_CONSUMER_GROUPS)];
  const endpoint = await AmqpEventHubEndpoint.start(
    {
      log: options.log,
      policies,
      hubName: options.hubName ?? DEFAULT_EVENT_HUB_NAME,
      consumerGroups,
      createdAt,
      clock: options.clock,
      logger: options.logger.child({ module: 'iothub-amqp' }),
    },
    options.port,
    options.host,
  );
  const info: EventHubsRuntimeInfo = { port: endpoint.port, hubName: endpoint.hubName, consumerGroups, connectionString: endpoint.connectionString() };
  await writeFileAtomic(runtimePath(options.dataDir), JSON.stringify(info) + '\n');
  return endpoint;
}

export async function stopEventHubsEndpoint(endpoint: AmqpEventHubEndpoint, dataDir: string): Promise<void> {
  await endpoint.stop();
  await rm(runtimePath(dataDir), { force: true });
}

/** What a running emulator's endpoint wrote; undefined when none runs with AMQP on this data dir. */
export async function readEventHubsInfo(dataDir: string): Promise<EventHubsRuntimeInfo | undefined> {
  const doc = await readJsonFile(runtimePath(dataDir));
  return doc === undefined ? undefined : (doc as EventHubsRuntimeInfo);
}
