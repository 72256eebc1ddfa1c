import { systemClock } from '../../../agent/core/clock.js';
import { silentLogger } from '../../../agent/core/logger.js';
import type { ConnectionSupervisor, SupervisorOptions } from '../../../agent/transport/supervisor.js';
import type { ConnectionEvent } from '../../../agent/transport/connection-history.js';

/** Supervisor options for tests: fast reconnects, short timeouts. */
export function supervisorOptions(connectionString: string, ca: string, over: Partial<SupervisorOptions> = {}): SupervisorOptions {
  return {
    connectionString,
    ca,
    sas: { tokenTtlSeconds: 3600, renewBeforeSeconds: 900 },
    sendTimeoutMs: 5000,
    connectTimeoutMs: 5000,
    keepAliveSeconds: 60,
    connection: { livenessIntervalMs: 30_000, livenessTimeoutMs: 10_000, reconnectInitialMs: 20, reconnectMaxMs: 200 },
    clock: systemClock,
    logger: silentLogger,
    ...over,
  };
}

/** Resolves with the first history event that matches. */
export function untilHistory(s: ConnectionSupervisor, match: (e: ConnectionEvent) => boolean): Promise<ConnectionEvent> {
  return new Promise((resolve) => {
    const on = (e: ConnectionEvent) => {
      if (!match(e)) return;
      s.events.off('history', on);
      resolve(e);
    };
    s.events.on('history', on);
  });
}

