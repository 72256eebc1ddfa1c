import { zodProblems, type Problem } from './problems.js';
import { TWIN_SECTIONS, agentConfigSchema, type AgentConfig } from './schema.js';

/** A JSON object as the twin carries it. */
export type JsonObject = { [key: string]: unknown };

/**
 * Why a desired document was refused, for the reported properties: the first problem (where, as
 * a dot path, and what) and, when validation found several, all of them in `problems`.
 */
export interface Refusal extends Problem {
  problems?: Problem[];
}

export type OverlayResult = { ok: true; config: AgentConfig } | { ok: false; reason: Refusal };

/** IoT Hub's own twin limit: objects nest at most 10 deep. */
export const MAX_DESIRED_DEPTH = 10;

const FILE_ONLY: Record<string, string> = {
  hub: 'the hub connection is set only in the local config file (a bad push must not cut the box off its hub)',
  dataDir: 'the data directory is set only in the local config file',
  journal: 'journal durability is set only in the local config file',
  diagnostics: 'local diagnostics (sockets, ports) are set only in the local config file',
};

export function isJsonObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The twin's read-only metadata (`$version`, `$metadata`, …) is not configuration. */
export function withoutMetadata(doc: JsonObject): JsonObject {
  return Object.fromEntries(Object.entries(doc).filter(([k]) => !k.startsWith('$')));
}

/**
 * Lays a desired document over the file config and validates the result as a whole: either the
 * complete new config comes back, or every problem with its path. Never throws for any
 * input, since a twin document is untrusted.
 *
 * Objects merge key by key (a desired `{forwarding: {lingerMs: 500}}` keeps the file's other
 * forwarding settings); arrays (drivers, queries) and scalars replace the file's value whole.
 */
export function overlayDesired(file: AgentConfig, desiredDoc: JsonObject, limits: { maxBytes: number }): OverlayResult {
  const desired = withoutMetadata(desiredDoc);
  const shape = checkShape(desired, limits.maxBytes);
  if (shape) return { ok: false, reason: shape };
  const problems: Problem[] = [];
  const settable: JsonObject = {};
  for (const [key, value] of Object.entries(desired)) {
    if (FILE_ONLY[key]) problems.push({ path: key, message: FILE_ONLY[key] });
    else if (!(TWIN_SECTIONS as readonly string[]).includes(key)) problems.push({ path: key, message: `unknown setting; the twin may set ${TWIN_SECTIONS.join(', ')}` });
    else settable[key] = value;
  }
  const storage = settable.storage;
  if (isJsonObject(storage) && 'writeBufferBytes' in storage) {
    problems.push({ path: 'storage.writeBufferBytes', message: 'the buffer\'s memtable size is set only in the local config file (LevelDB takes it when the buffer opens, at start)' });
  }
  for (const path of desiredReferenceFiles(settable)) {
    problems.push({ path, message: 'reference files are named only in the local config file (the twin must not make the agent read files of its choosing); the twin may give a table inline as "rows"' });
  }
  // The sections it may set are still judged, so that one refusal names everything to fix.
  const result = agentConfigSchema.safeParse(mergeObjects(file as unknown as JsonObject, settable));
  if (!result.success) problems.push(...zodProblems(result.error));
  if (problems.length === 0 && result.success) return { ok: true, config: result.data };
  const first = problems[0]!;
  const more = problems.length > 1 ? ` (and ${problems.length - 1} more problem${problems.length > 2 ? 's' : ''})` : '';
  return { ok: false, reason: { path: first.path, message: first.message + more, problems } };
}

/** The paths of every desired `analytics.reference.<name>.file`. */
function desiredReferenceFiles(desired: JsonObject): string[] {
  const analytics = desired.analytics;
  const reference = isJsonObject(analytics) ? analytics.reference : undefined;
  if (!isJsonObject(reference)) return [];
  return Object.keys(reference)
    .filter((n) => isJsonObject(reference[n]) && 'file' in reference[n])
    .map((n) => `analytics.reference.${n}.file`);
}

/**
 * Size, depth and nulls: what must hold before the content is even looked at. A merge patch may
 * carry nulls (deletes: the setting goes back to the file's value), a document not.
 */
export function checkShape(desired: JsonObject, maxBytes: number, options: { patch?: boolean } = {}): Refusal | undefined {
  let bytes: number;
  try {
    bytes = Buffer.byteLength(JSON.stringify(desired), 'utf8');
  } catch {
    return { path: '(root)', message: 'the desired document is not JSON' };
  }
  if (bytes > maxBytes) return { path: '(root)', message: `the desired document is ${bytes} bytes; at most ${maxBytes} are accepted` };
  return walk(desired, [], 1, options.patch === true);
}

function walk(value: unknown, path: string[], depth: number, nullOk: boolean): Refusal | undefined {
  const where = path.join('.') || '(root)';
  if (value === null) {
    if (nullOk) return undefined;
    return { path: where, message: "null is accepted only in a desired patch, as the delete of an object's key (the setting goes back to the file's value), not in an array or a whole document" };
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const r = walk(value[i], [...path, String(i)], depth + 1, false);
      if (r) return r;
    }
    return undefined;
  }
  if (isJsonObject(value)) {
    if (depth > MAX_DESIRED_DEPTH) return { path: where, message: `nested deeper than ${MAX_DESIRED_DEPTH} levels` };
    for (const [k, v] of Object.entries(value)) {
      const r = walk(v, [...path, k], depth + 1, nullOk);
      if (r) return r;
    }
    return undefined;
  }
  if (typeof value === 'number' && !Number.isFinite(value)) return { path: where, message: 'not a finite number' };
  return undefined;
}

/** Objects merge recursively; anything else in `over` replaces `base`. Inputs are not modified. */
export function mergeObjects(base: JsonObject, over: JsonObject): JsonObject {
  const out: JsonObject = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] = isJsonObject(b) && isJsonObject(v) ? mergeObjects(b, v) : v;
  }
  return out;
}

/** JSON merge patch (RFC 7386), the twin's own rule: `null` deletes. Inputs are not modified. */
export function applyMergePatch(target: JsonObject, patch: JsonObject): JsonObject {
  const out: JsonObject = { ...target };
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else if (isJsonObject(v)) out[k] = applyMergePatch(isJsonObject(out[k]) ? out[k] : {}, v);
    else out[k] = v;
  }
  return out;
}
