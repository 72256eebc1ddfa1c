import { systemErrorCode } from '../core/errors.js';

/** LevelDB reports ENOSPC as an IO error whose message carries the OS text. */
export function isDiskFull(err: unknown): boolean {
  if (systemErrorCode(err) === 'ENOSPC') return true;
  if (err instanceof Error && /no space left on device/i.test(err.message)) return true;
  return err instanceof Error && err.cause !== undefined && err.cause !== err && isDiskFull(err.cause);
}
