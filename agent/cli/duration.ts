import { EdgeError } from '../core/errors.js';

/** Duration flags of the CLI (`--duration 20s`, `--late-arrival 10m`, `--timeout 500ms`). */
const UNITS: Record<string, number> = { ms: 1, s: 1000, sec: 1000, m: 60_000, min: 60_000, h: 3_600_000, d: 86_400_000 };

/** Said in every refusal, so the fix is in the message. */
export const DURATION_EXAMPLES = '500ms, 10s, 5m, 1h; a bare number is milliseconds';

/**
 * `10m`, `3m`, `1h`, `5s`, `250ms` → milliseconds; a bare number is milliseconds (what the
 * flags took before they took units). `min`/`max` bound the result, inclusive.
 */
export function parseDuration(text: string, what = 'duration', bounds: { min?: number; max?: number } = {}): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|sec|m|min|h|d)?\s*$/i.exec(text);
  if (!m) throw new EdgeError('EDGE_USAGE', `${what} '${text}' is not a duration (examples: ${DURATION_EXAMPLES})`);
  const ms = Math.round(Number(m[1]) * (m[2] ? UNITS[m[2].toLowerCase()]! : 1));
  const { min = 0, max = Number.MAX_SAFE_INTEGER } = bounds;
  if (ms < min || ms > max) throw new EdgeError('EDGE_USAGE', `${what} '${text}' must be ${max === Number.MAX_SAFE_INTEGER ? `at least ${min} ms` : `between ${min} ms and ${max} ms`}`);
  return ms;
}
