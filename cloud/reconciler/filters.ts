import { EdgeError } from '../../agent/core/errors.js';
import type { ResultFilter } from './store.js';

/**
 * Parses the result filters shared by the CLI (`cloud results`) and the HTTP API (`/results`),
 * so both faces accept the same spellings: times as ISO 8601 or epoch milliseconds.
 */
export function parseTimeArg(value: string, name: string): number {
  const trimmed = value.trim();
  if (/^-?\d+$/.test(trimmed)) return Number(trimmed);
  const ms = Date.parse(trimmed);
  if (!Number.isFinite(ms)) throw new EdgeError('EDGE_USAGE', `${name} must be an ISO 8601 time or epoch milliseconds, got "${value}"`);
  return ms;
}

export function parseResultFilter(raw: { device?: string; query?: string; from?: string; to?: string; limit?: string }): ResultFilter {
  const filter: ResultFilter = {};
  if (raw.device) filter.device = raw.device;
  if (raw.query) filter.query = raw.query;
  if (raw.from) filter.from = parseTimeArg(raw.from, 'from');
  if (raw.to) filter.to = parseTimeArg(raw.to, 'to');
  if (raw.limit) {
    const n = Number(raw.limit);
    if (!Number.isSafeInteger(n) || n < 0) throw new EdgeError('EDGE_USAGE', `limit must be a non-negative integer, got "${raw.limit}"`);
    filter.limit = n;
  }
  if (filter.from !== undefined && filter.to !== undefined && filter.from > filter.to) {
    throw new EdgeError('EDGE_USAGE', 'from is after to');
  }
  return filter;
}
