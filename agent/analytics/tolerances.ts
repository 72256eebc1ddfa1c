import { EdgeError } from '../core/errors.js';

export type LatePolicy = 'adjust' | 'drop' | 'revise';

/** DESIGN §4's tolerances. Defaults are ASA's: 5 s late arrival, no out-of-order, adjust. */
export interface Tolerances {
  /** L: events whose time is older than arrival − L are late. */
  lateArrivalMs: number;
  /** O: events are held and re-sorted within O of the newest time seen in their partition. */
  outOfOrderMs: number;
  policy: LatePolicy;
  /** With `revise`, how long closed windows are kept for late events. */
  allowedLatenessMs: number;
  /** ASA's fixed early-arrival window (5 min): an event further ahead of its arrival is dropped, whatever the policy. */
  earlyArrivalMs: number;
}

export const DEFAULT_TOLERANCES: Tolerances = {
  lateArrivalMs: 5_000,
  outOfOrderMs: 0,
  policy: 'adjust',
  allowedLatenessMs: 0,
  earlyArrivalMs: 300_000,
};

export function resolveTolerances(given: Partial<Tolerances> | undefined): Tolerances {
  const t = { ...DEFAULT_TOLERANCES, ...stripUndefined(given ?? {}) };
  for (const k of ['lateArrivalMs', 'outOfOrderMs', 'allowedLatenessMs', 'earlyArrivalMs'] as const) {
    if (!Number.isFinite(t[k]) || t[k] < 0) {
      throw new EdgeError('EDGE_CONFIG_INVALID', `analytics tolerance ${k} must be a duration of zero or more milliseconds, not ${String(t[k])}`);
    }
  }
  if (!['adjust', 'drop', 'revise'].includes(t.policy)) {
    throw new EdgeError('EDGE_CONFIG_INVALID', `analytics late policy must be adjust, drop or revise, not '${String(t.policy)}'`);
  }
  return t;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/**
 * What the diagnostics CLI shows per query; names follow ASA's job metrics. The lateness
 * counters add up over the query's statements that read the input (usually one).
 */
export interface Counters {
  /** Events pushed to the query. */
  inputEvents: number;
  /** Older than arrival − L (ASA "Late Input Events"). */
  lateInput: number;
  /** Older than the partition's newest time − O, or behind the watermark (ASA "Out of Order Events"). */
  outOfOrder: number;
  /** More than 5 minutes ahead of arrival (ASA "Early Input Events"); always dropped. */
  earlyInput: number;
  adjusted: number;
  /** Events that take no part in the result: dropped by the policy, early, or whose TIMESTAMP BY is not a time. */
  dropped: number;
  /** Events (or window rows) dropped because a CAST failed (ASA "Data Conversion Errors"); TRY_CAST gives NULL instead. */
  conversionErrors: number;
  /** Window results re-emitted with rev + 1. */
  revised: number;
  /** In a query reading several inputs: events whose input (`input`, else `source`) is none of them, so no statement read them. */
  unmatchedInput: number;
  /** Latest arrival time minus the watermark, in ms (ASA "Watermark Delay"). */
  watermarkDelayMs: number;
}

export function newCounters(): Counters {
  return { inputEvents: 0, lateInput: 0, outOfOrder: 0, earlyInput: 0, adjusted: 0, dropped: 0, conversionErrors: 0, revised: 0, unmatchedInput: 0, watermarkDelayMs: 0 };
}

/**
 * Bounds the state one query may hold (buffered events, open window groups, session and sliding
 * state), so a runaway GROUP BY key or a stuck partition fails loudly instead of eating the box.
 */
export class StateBudget {
  used = 0;
  constructor(
    readonly queryName: string,
    readonly limit: number,
  ) {}

  take(n: number): void {
    this.used += n;
    if (this.used > this.limit) {
      this.used -= n;
      throw new EdgeError(
        'EDGE_QUERY_STATE_LIMIT',
        `query '${this.queryName}' needs more than ${this.limit} state entries (open window groups and held events); reduce GROUP BY cardinality, window size or tolerances, or raise the limit`,
      );
    }
  }

  give(n: number): void {
    this.used -= n;
  }
}
