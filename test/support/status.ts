import { request } from '../../agent/diagnostics/client.js';
import type { StatusReport } from '../../agent/diagnostics/handlers/status.js';

/**
 * Follows the running agent's status stream (`status --follow`: a report whenever readings were
 * accepted, and at least every second) until `predicate` holds; fails after `deadlineMs` with
 * the last report. Waits on the agent's own events, never on a fixed sleep.
 */
export function untilStatus(socketPath: string, predicate: (s: StatusReport) => boolean, deadlineMs = 60_000, what = 'status condition'): Promise<StatusReport> {
  const stop = new AbortController();
  return new Promise<StatusReport>((resolve, reject) => {
    let last: StatusReport | undefined;
    const deadline = setTimeout(() => {
      stop.abort();
      reject(new Error(`timed out after ${deadlineMs} ms waiting for ${what}: ${JSON.stringify(last ? { alarms: last.alarms, buffer: last.buffer, readings: last.readings, health: last.health } : null)}`));
    }, deadlineMs);
    request(socketPath, 'status', { follow: true }, {
      stop: stop.signal,
      onEvent: (e) => {
        last = e as StatusReport;
        if (!predicate(last)) return;
        clearTimeout(deadline);
        stop.abort();
        resolve(last);
      },
    }).catch((err: unknown) => {
      clearTimeout(deadline);
      reject(err instanceof Error ? err : new Error(String(err)));
    });
  });
}
