import type { Clock } from '../core/clock.js';
import type { Driver } from '../core/driver.js';
import { errorMessage, isEdgeError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { isPointWriter, type PointWriteResult } from '../core/point-write.js';
import type { MethodHandler, MethodResult } from './handlers.js';

/** The name of the audit event every write attempt sends to the cloud. */
export const WRITE_AUDIT_EVENT = 'point.write';

export interface WritePointDeps {
  clock: Clock;
  logger: Logger;
  /** The running driver of that name, if any. */
  driver: (name: string) => Driver | undefined;
  driverNames: () => string[];
  /** Sends an `event` record to the cloud; resolves once it is durable in the outbox. */
  audit: (name: string, t: number, data: Record<string, unknown>) => Promise<void>;
}

/** HTTP-like status of a failed write, by the error's stable code. */
const STATUS: Record<string, number> = {
  EDGE_USAGE: 404,
  EDGE_WRITE_REFUSED: 403,
  EDGE_DEVICE_EXCEPTION: 502,
  EDGE_WRITE_UNVERIFIED: 409,
  EDGE_DEVICE_TIMEOUT: 504,
  EDGE_DEVICE_UNAVAILABLE: 503,
};

/**
 * Direct method `writePoint {driver, device, point, value, by?}`: one allow-listed write,
 * read back, answered with the value read back (200) or an error naming why not. Every call,
 * refused or done, becomes a `point.write` audit event for the cloud, with who asked (`by`, as
 * the caller names itself: IoT Hub does not tell the device who invoked a method), what was
 * asked, what was read back and when. A write is never refused for want of an audit: the
 * answer then says the audit failed.
 */
export function writePointMethod(deps: WritePointDeps): Record<string, MethodHandler> {
  const log = deps.logger;
  const answer = async (status: number, payload: Record<string, unknown>, audit: Record<string, unknown>): Promise<MethodResult> => {
    try {
      await deps.audit(WRITE_AUDIT_EVENT, deps.clock.now(), audit);
    } catch (err) {
      log.error({ err: errorMessage(err), audit }, 'write audit record not stored');
      payload.auditError = { code: isEdgeError(err) ? err.code : 'EDGE_INTERNAL', message: errorMessage(err) };
    }
    return { status, payload };
  };
  return {
    writePoint: async (payload) => {
      const p = typeof payload === 'object' && payload !== null && !Array.isArray(payload) ? (payload as Record<string, unknown>) : {};
      const by = typeof p.by === 'string' && p.by.length > 0 ? p.by.slice(0, 200) : 'direct method';
      const what = { driver: p.driver, device: p.device, point: p.point, requested: p.value };
      const base = { by, via: 'method', ...what };
      const fail = (status: number, code: string, message: string, outcome: 'refused' | 'failed') =>
        answer(status, { error: { code, message } }, { ...base, outcome, error: { code, message } });
      if (typeof p.driver !== 'string' || typeof p.device !== 'string' || typeof p.point !== 'string' || !('value' in p)) {
        return fail(400, 'EDGE_USAGE', 'writePoint needs {"driver": "…", "device": "…", "point": "…", "value": …}', 'refused');
      }
      const driver = deps.driver(p.driver);
      if (!driver) return fail(404, 'EDGE_USAGE', `no driver named "${p.driver}" (drivers: ${deps.driverNames().join(', ') || 'none'})`, 'refused');
      if (!isPointWriter(driver)) return fail(400, 'EDGE_WRITE_REFUSED', `driver "${p.driver}" cannot write points`, 'refused');
      let done: PointWriteResult;
      try {
        done = await driver.writePoint({ device: p.device, point: p.point, value: p.value, by });
      } catch (err) {
        const code = isEdgeError(err) ? err.code : 'EDGE_INTERNAL';
        return fail(STATUS[code] ?? 500, code, errorMessage(err), code === 'EDGE_WRITE_REFUSED' || code === 'EDGE_USAGE' ? 'refused' : 'failed');
      }
      const result = { driver: p.driver, ...done };
      return answer(200, result, { ...base, outcome: 'done', written: done.written, readBack: done.readBack, function: done.function, at: done.at });
    },
  };
}
