// The public face of agent/analytics; everything else in this folder is internal.
export { compileQuery, type CompileOptions, type QueryPlan, type StatementPlan, type WindowPlan } from './plan.js';
export { AnalyticsEngine, DEFAULT_MAX_STATE_ENTRIES, type AnalyticsEvent, type EngineOptions, type InputFilter, type ResultRow } from './engine.js';
export { DEFAULT_TOLERANCES, type Counters, type LatePolicy, type Tolerances } from './tolerances.js';
export { CHECKPOINT_VERSION, type EngineCheckpoint, type JsonValue } from './checkpoint.js';
export { QueryError } from './diagnostics.js';
export { eventFromReading, toResultRecord } from './results.js';
export { replayLines, type ReplayOptions, type ReplaySummary } from './replay.js';
export { loadReferenceFile, parseReferenceText, ReferenceFileSource } from './reference-file.js';
export { referenceTablesFromDesired } from './reference-table.js';
