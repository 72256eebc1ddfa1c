import { systemErrorCode } from '../core/errors.js';
import { isDiskFull } from './disk-full.js';

/**
 * Why the store refuses work. `disk-full`: a write failed for space; LevelDB keeps a failed
 * background compaction as a sticky error and may leave a torn record in its log, so the store is
 * reopened (not just retried) once space returns. `damaged`: LevelDB found corruption (at a read,
 * a compaction or a write); the store is moved aside and replaced.
 */
export type StoreFaultKind = 'disk-full' | 'damaged';

export interface StoreFault {
  kind: StoreFaultKind;
  message: string;
  since: number;
}

/** classic-level's code for corruption, and the text LevelDB puts in front of it. */
export function isCorruption(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (systemErrorCode(e) === 'LEVEL_CORRUPTION' || /^Corruption:/.test(e.message)) return true;
  }
  return false;
}

/** The fault an error from LevelDB means, or undefined for one that is not the store's (a bug, a closed db). */
export function faultOf(err: unknown): StoreFaultKind | undefined {
  if (isDiskFull(err)) return 'disk-full';
  if (isCorruption(err)) return 'damaged';
  return undefined;
}

/** The agent's own refusal while a store fault holds: already reported once, by the recovery. */
export function isStoreFaultError(err: unknown): boolean {
  return err instanceof Error && 'code' in err && (err.code === 'EDGE_DISK_FULL' || err.code === 'EDGE_STORE_DAMAGED');
}
