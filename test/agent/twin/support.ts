import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { EventEmitter } from 'node:events';
import { systemClock } from '../../../agent/core/clock.js';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { parseConfig } from '../../../agent/config/load.js';
import type { AgentConfigInput } from '../../../agent/config/schema.js';
import { startAgentFromConfig, type RunningAgent } from '../../../agent/runtime/build-agent.js';
import type { IotHubEmulator } from '../../../cloud/iothub/index.js';

/** A synthetic driver config; `points` names its points. */
export function syntheticDriver(intervalMs: number, points = ['p0', 'p1']): NonNullable<AgentConfigInput['drivers']>[number] {
  return { type: 'synthetic', name: 'sim', source: 'sim-1', intervalMs, points: points.map((name) => ({ name, unit: 'C' })) };
}

/** The whole agent as `edge-agent run` builds it (supervisor, twin, methods), on the emulator. */
export async function startTwinAgent(hub: IotHubEmulator, connectionString: string, dataDir: string, over: Partial<AgentConfigInput> = {}): Promise<RunningAgent> {
  const caFile = join(dataDir, '..', `${Buffer.from(dataDir).toString('hex').slice(-16)}-ca.pem`);
  writeFileSync(caFile, hub.caPem);
  const config = parseConfig(
    {
      hub: { connectionString, caFile },
      dataDir,
      drivers: [syntheticDriver(20)],
      forwarding: { lingerMs: 20, retryInitialMs: 50, retryMaxMs: 200, sendTimeoutMs: 5000, connectTimeoutMs: 5000 },
      connection: { reconnectInitialMs: 20, reconnectMaxMs: 200 },
      twin: { reportMinIntervalMs: 100 },
      ...over,
    },
    'test config',
  );
  // Its own logger: a desired `log.level` changes it, and must not wake up other tests' logs.
  const logger = process.env.TWIN_TEST_LOG ? pino({ level: 'debug' }) : pino({ level: 'silent' }, new Writable({ write: (_c, _e, cb) => cb() }));
  return startAgentFromConfig(config, { clock: systemClock, logger });
}

/** Resolves with the arguments of the first `event` whose arguments satisfy `match`. */
export function next<E extends Record<string, unknown[]>, K extends keyof E & string>(
  emitter: EventEmitter<E>,
  event: K,
  match: (...args: E[K]) => boolean = () => true,
): Promise<E[K]> {
  return new Promise((resolve) => {
    const on = (...args: E[K]) => {
      if (!match(...args)) return;
      (emitter as unknown as NodeJS.EventEmitter).off(event, on as never);
      resolve(args);
    };
    (emitter as unknown as NodeJS.EventEmitter).on(event, on as never);
  });
}
