import { errorMessage, isEdgeError } from '../core/errors.js';
import type { Clock } from '../core/clock.js';

/** A direct method's answer: an HTTP-like status and a JSON body, as IoT Hub relays them. */
export interface MethodResult {
  status: number;
  payload: unknown;
  /** Runs once the answer is sent (a handler whose work would cut the link the answer travels on). */
  after?: () => void;
}

export type MethodHandler = (payload: unknown) => Promise<MethodResult>;

export interface MethodDeps {
  clock: Clock;
  agentVersion: string;
  boot: () => string;
  startedAt: () => number;
  /** The full health picture (stats, connection history, config status). */
  health: () => unknown;
  resend: (fromSeq: number, toSeq: number) => Promise<{ resent: number; evicted: Array<{ fromSeq: number; toSeq: number }> }>;
  /** Names of the drivers that can be restarted. */
  driverNames: () => string[];
  restartDriver: (name: string) => Promise<unknown>;
}

/**
 * The agent's direct methods, free of the SDK so they can be tested alone: `ping`, `getHealth`,
 * `resend(fromSeq, toSeq)` (served from the outbox's retention) and `restartDriver(name)`. A bad
 * request is a 400 naming what is wrong, an unknown driver a 404; nothing here throws.
 */
export function methodHandlers(deps: MethodDeps): Record<string, MethodHandler> {
  return {
    ping: async () => ({ status: 200, payload: { pong: true, at: new Date(deps.clock.now()).toISOString(), agentVersion: deps.agentVersion, boot: deps.boot(), uptimeMs: deps.clock.now() - deps.startedAt() } }),

    getHealth: async () => ({ status: 200, payload: deps.health() }),

    resend: async (payload) => {
      const p = asObject(payload);
      const fromSeq = p?.fromSeq;
      const toSeq = p?.toSeq;
      if (!isSeq(fromSeq) || !isSeq(toSeq) || toSeq < fromSeq) {
        return bad(400, 'EDGE_USAGE', 'resend needs {"fromSeq": n, "toSeq": m} with integers 1 ≤ n ≤ m');
      }
      try {
        const { resent, evicted } = await deps.resend(fromSeq, toSeq);
        return { status: 200, payload: { fromSeq, toSeq, resent, evicted } };
      } catch (err) {
        return bad(isEdgeError(err, 'EDGE_USAGE') ? 400 : 500, isEdgeError(err) ? err.code : 'EDGE_INTERNAL', errorMessage(err));
      }
    },

    restartDriver: async (payload) => {
      const name = typeof payload === 'string' ? payload : asObject(payload)?.name;
      if (typeof name !== 'string' || name.length === 0) return bad(400, 'EDGE_USAGE', 'restartDriver needs {"name": "<driver name>"}');
      if (!deps.driverNames().includes(name)) return bad(404, 'EDGE_USAGE', `no driver named "${name}" (drivers: ${deps.driverNames().join(', ') || 'none'})`);
      try {
        const health = await deps.restartDriver(name);
        return { status: 200, payload: { name, restarted: true, health } };
      } catch (err) {
        return bad(500, isEdgeError(err) ? err.code : 'EDGE_INTERNAL', errorMessage(err));
      }
    },
  };
}

function bad(status: number, code: string, message: string): MethodResult {
  return { status, payload: { error: { code, message } } };
}

function asObject(v: unknown): Record<string, unknown> | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

function isSeq(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 1;
}
