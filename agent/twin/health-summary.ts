import type { AgentStats } from '../core/agent-stats.js';
import type { JsonObject } from '../config/overlay.js';

/** What the connection supervisor adds to the health summary. */
export interface ConnectionSummary {
  state: string;
  since: number;
  generation: number;
  totals: { connects: number; failures: number; losses: number; renewals: number };
  lastError?: { code: string; message: string; at: number };
}

/**
 * The health summary in the reported properties: small, stable names, times as ISO strings, and
 * twin-safe keys (IoT Hub refuses `.`, `$` and spaces in property names). It is what a fleet
 * dashboard shows per gateway; the full figures stay on the box (`getHealth`, diagnostics CLI).
 */
export function healthSummary(stats: AgentStats, connection: ConnectionSummary, now: number): JsonObject {
  const drivers: JsonObject = {};
  let readingsRejected = 0;
  for (const [name, h] of Object.entries(stats.drivers)) {
    drivers[twinKey(name)] = h.state;
    readingsRejected += h.rejected;
  }
  const late = { lateInput: 0, outOfOrder: 0, adjusted: 0, dropped: 0 };
  let watermarkLagMs = 0;
  for (const c of Object.values(stats.analytics?.counters ?? {})) {
    const q = c as Partial<Record<keyof typeof late | 'watermarkDelayMs', number>>;
    for (const k of Object.keys(late) as Array<keyof typeof late>) late[k] += q[k] ?? 0;
    watermarkLagMs = Math.max(watermarkLagMs, q.watermarkDelayMs ?? 0);
  }
  const oldest = stats.storage?.oldestUnsentTime;
  return {
    at: new Date(now).toISOString(),
    connection: {
      state: connection.state,
      since: new Date(connection.since).toISOString(),
      generation: connection.generation,
      ...connection.totals,
      lastError: connection.lastError ? { code: connection.lastError.code, message: connection.lastError.message.slice(0, 200), at: new Date(connection.lastError.at).toISOString() } : null,
    },
    drivers,
    /** Readings the journal refused (EDGE_READING_INVALID): a driver sending what cannot be stored. */
    readingsRejected,
    buffer: {
      outboxDepth: stats.outboxDepth,
      journalBacklog: stats.journalBacklog,
      bytes: stats.storage?.bytes ?? null,
      oldestUnsentAgeMs: oldest !== undefined ? Math.max(0, now - oldest) : null,
    },
    analytics: { ...late, watermarkLagMs },
    alarms: (stats.alarms ?? []).map((a) => a.code).join(',') || null,
  };
}

export function twinKey(name: string): string {
  return name.replace(/[.$ ]/g, '_') || '_';
}
