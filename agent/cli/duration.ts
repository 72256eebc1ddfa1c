import { EdgeError } from '../core/errors.js';

/** Duration flags of the CLI (`--duration 20s`, `--late-arrival 10m`). */
const UNITS: Record<string, number> = { ms: 1, s: 1000, sec: 1000, m: 60_000, min: 60_000, h: 3_600_000, d: 86_400_000 };

/** `10m`, `3m`, `1h`, `5s`, `250ms`, `0` → milliseconds. */
export function parseDuration(text: string, what = 'duration'): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|sec|m|min|h|d)?\s*$/i.exec(text);
  if (!m) throw new EdgeError('EDGE_USAGE', `${what} '${text}' is not a duration (examples: 0, 500ms, 5s, 3m, 1h, 1d)`);
  const n = Number(m[1]);
  const unit = m[2] ? UNITS[m[2].toLowerCase()]! : n === 0 ? 1 : NaN;
  if (Number.isNaN(unit)) throw new EdgeError('EDGE_USAGE', `${what} '${text}' needs a unit (ms, s, m, h or d)`);
  return Math.round(n * unit);
}
