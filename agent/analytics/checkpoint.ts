/**
 * Checkpoint encoding. Operator state holds Dates (datetime values, TopOne rows) and ±Infinity
 * (watermarks before the first event); JSON has neither, so they are tagged on the way out and
 * restored on the way in. The result survives JSON.stringify/parse unchanged.
 */
export const CHECKPOINT_VERSION = 1;

/** A JSON value; what `AnalyticsEngine.checkpoint()` returns and `restore()` takes. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

export interface EngineCheckpoint {
  v: typeof CHECKPOINT_VERSION;
  /** Per query name: the query text the state belongs to, and its statements' state. */
  queries: { [query: string]: { text: string; state: JsonValue } };
}

const DATE = '$edge:date';
const NUM = '$edge:num';

export function encodeState(v: unknown): JsonValue {
  if (v === null || v === undefined) return null;
  if (typeof v === 'number') return Number.isFinite(v) ? v : { [NUM]: String(v) };
  if (typeof v === 'string' || typeof v === 'boolean') return v;
  if (v instanceof Date) return { [DATE]: v.getTime() };
  if (Array.isArray(v)) return v.map(encodeState);
  if (typeof v === 'object') {
    const out: { [key: string]: JsonValue } = {};
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) if (x !== undefined) out[k] = encodeState(x);
    return out;
  }
  return null;
}

export function decodeState(v: JsonValue): unknown {
  if (v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) return v.map(decodeState);
  const keys = Object.keys(v);
  if (keys.length === 1) {
    if (keys[0] === DATE) return new Date(v[DATE] as number);
    if (keys[0] === NUM) return Number(v[NUM]);
  }
  const out: Record<string, unknown> = {};
  for (const k of keys) out[k] = decodeState(v[k]!);
  return out;
}
