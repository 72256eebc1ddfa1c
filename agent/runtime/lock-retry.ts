import { isEdgeError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';

/** How often and how long a start waits for a buffer lock still held by a previous run. */
const LOCK_RETRIES = 5;
const LOCK_RETRY_FIRST_MS = 250;

/**
 * After a crash or a quick restart the previous process may still hold the LevelDB lock for a
 * moment (systemd's restart storm): retry a few times before giving up with EDGE_STORE_LOCKED.
 */
export async function startRetryingLock<T>(start: () => Promise<T>, logger: Logger, shutdown: Promise<unknown>): Promise<T | 'stopped'> {
  let stop = false;
  void shutdown.then(() => (stop = true));
  for (let attempt = 0; ; attempt++) {
    try {
      return await start();
    } catch (err) {
      if (!isEdgeError(err, 'EDGE_STORE_LOCKED') || attempt >= LOCK_RETRIES) throw err;
      if (stop) return 'stopped';
      const ms = LOCK_RETRY_FIRST_MS * 2 ** attempt;
      logger.warn({ attempt: attempt + 1, retryInMs: ms }, 'the buffer is still locked (a previous run exiting?); retrying');
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([new Promise((resolve) => (timer = setTimeout(resolve, ms))), shutdown]);
      clearTimeout(timer);
      if (stop) return 'stopped';
    }
  }
}

