import type { Accumulator, AggregateName } from './aggregates.js';
import type { AnalyticName, Expr } from './ast.js';

/**
 * The shapes the expression compiler and the analytic-function compiler share: the evaluation
 * environment, compiled expressions, aggregate and analytic call sites, and the compile scope.
 * Their own module, so the two compilers can call each other without importing each other.
 */

/**
 * Expressions compile once into closures over a reused `Env`, so evaluating a WHERE or an
 * aggregate argument per event allocates nothing.
 */
export interface Env {
  /** The event (row phase) — or, in the output phase of a grouped query, the group's first event. */
  row: Record<string, unknown>;
  /** System.Timestamp(): the event's final time, or the window end when a window is output. */
  ts: number;
  /** Aggregate results, in plan order (output phase only). */
  aggs: unknown[];
  /** GROUP BY values, in plan order (output phase only). */
  keys: unknown[];
  /** System.Window().Id: the id of the window of Windows(…) being output, or null. */
  windowId: string | null;
}

export type Eval = (env: Env) => unknown;

export interface AggregateCall {
  name: AggregateName;
  /** The argument, evaluated per event; null for COUNT(*) and TopOne(). */
  arg: Eval | null;
  create: () => Accumulator;
  /** Canonical text, so the same aggregate written twice is computed once. */
  text: string;
}

export interface CompileScope {
  queryName: string;
  queryText: string;
  /** Names by which the FROM input may prefix a column (`i.temp` with `FROM input i`). */
  sourceNames: string[];
  /** Grouped output phase: group keys may be read, aggregates are collected here. */
  group: { keys: Expr[]; keyTexts: string[]; aggregates: AggregateCall[] } | null;
  /** Whether aggregates may appear (SELECT/HAVING of a grouped query). */
  where: 'row' | 'output' | 'aggregate-arg';
  /** HAVING only: SELECT aliases (lower-cased) it may name, as ASA allows (`HAVING [Count] >= 3`). */
  aliases?: Map<string, Eval>;
  /** The statement's analytic calls, where they are allowed (its SELECT, WHERE and aggregate arguments over events). */
  analytics?: AnalyticCall[];
  /** A JOIN statement's side aliases (lower-cased): DATEDIFF(unit, a, b) with them reads the events' times. */
  joinSides?: string[];
}

/** One analytic function call site of a statement; its state lives in the AnalyticOperator. */
export interface AnalyticCall {
  fn: AnalyticName;
  /** The value looked up; null for `*` (the whole event as a record). */
  value: Eval | null;
  /** LAG's offset (1 or more); LAST is offset 0. */
  offset: number;
  /** Returned when there is no such event (NULL when not given). */
  fallback: Eval | null;
  partitionBy: Eval[];
  /** LIMIT DURATION for LAG and LAST, the interval size for ISFIRST, in ms. */
  durationMs: number;
  when: Eval | null;
  /** TopOne's ORDER BY, evaluated on each event. */
  order: Array<{ key: Eval; desc: boolean }>;
  /** AnomalyDetection_*: confidence (0–1), history size (events), and for SpikeAndDip the tails watched. */
  anomaly: { confidence: number; history: number; mode: 'spikes' | 'dips' | 'both' } | null;
}

/**
 * Where the AnalyticOperator leaves an event's analytic results: a copy of the event carries
 * them under this name, which no JSON field can collide with and SELECT * leaves out.
 */
export const ANALYTIC_VALUES = '\u0000analytic';
