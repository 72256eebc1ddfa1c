import { EdgeError } from '../core/errors.js';
import type { LogEntry } from '../diagnostics/log-control.js';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const LEVELS: Record<string, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 };

/** Which log lines a caller wants: newer than `sinceMs`, at `level` or above, of one `module`. */
export interface LogFilter {
  sinceMs?: number;
  minLevel?: number;
  module?: string;
}

/**
 * Reads `{since, level, module}` from a method payload. `since` is an ISO time or a duration
 * back from now (`90s`, `15m`, `2h`); `level` one of trace…fatal. @throws EDGE_USAGE naming the field.
 */
export function parseLogFilter(payload: unknown, now: number): LogFilter {
  if (payload === undefined || payload === null || payload === '') return {};
  if (typeof payload !== 'object' || Array.isArray(payload)) throw new EdgeError('EDGE_USAGE', 'the payload is an object: {"since"?, "level"?, "module"?}');
  const p = payload as Record<string, unknown>;
  const out: LogFilter = {};
  if (p.since !== undefined) {
    if (typeof p.since !== 'string' || p.since.length === 0) throw new EdgeError('EDGE_USAGE', 'since is an ISO time or a duration such as "15m"');
    out.sinceMs = sinceMs(p.since, now);
  }
  if (p.level !== undefined) {
    const n = typeof p.level === 'string' ? LEVELS[p.level] : undefined;
    if (n === undefined) throw new EdgeError('EDGE_USAGE', `level is one of ${Object.keys(LEVELS).join(', ')}`);
    out.minLevel = n;
  }
  if (p.module !== undefined) {
    if (typeof p.module !== 'string' || p.module.length === 0) throw new EdgeError('EDGE_USAGE', 'module is a module name such as "transport"');
    out.module = p.module;
  }
  return out;
}

function sinceMs(text: string, now: number): number {
  const d = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(text);
  if (d) return now - Math.round(Number(d[1]) * UNIT_MS[d[2]!]!);
  const t = Date.parse(text);
  if (!Number.isFinite(t)) throw new EdgeError('EDGE_USAGE', `since: ${text} is neither an ISO time nor a duration such as "15m"`);
  return t;
}

export function matchesFilter(e: LogEntry, f: LogFilter): boolean {
  if (f.sinceMs !== undefined && !(e.time >= f.sinceMs)) return false;
  if (f.minLevel !== undefined && !(e.level >= f.minLevel)) return false;
  if (f.module !== undefined && e.module !== f.module) return false;
  return true;
}
