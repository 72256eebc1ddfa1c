import { join } from 'node:path';
import { EdgeError } from '../../agent/core/errors.js';
import { CoalescingWriter, readJsonFile } from './atomic-file.js';

/**
 * Device twins: desired properties (set by the service) and reported properties (set by the
 * device), each with its own `$version` that goes up by one per accepted patch. Persisted in
 * `dataDir/twins.json`, replaced atomically.
 */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type TwinProperties = { [key: string]: JsonValue };

/** A twin section as IoT Hub shows it: the properties plus their `$version`. */
export type VersionedProperties = TwinProperties & { $version: number };

export interface TwinDocument {
  desired: VersionedProperties;
  reported: VersionedProperties;
}

interface StoredTwin {
  desired: TwinProperties;
  desiredVersion: number;
  reported: TwinProperties;
  reportedVersion: number;
}

/** IoT Hub limits: each section at most 32 KB, objects nested at most 10 deep. */
const TWIN_SECTION_MAX_BYTES = 32 * 1024;
const TWIN_MAX_DEPTH = 10;

/** A patch IoT Hub would refuse with 400; `message` says why, for the device and the caller. */
export class TwinPatchError extends Error {
  override readonly name = 'TwinPatchError';
  readonly status = 400;
}

function twinsPath(dataDir: string): string {
  return join(dataDir, 'twins.json');
}

function isObject(v: unknown): v is { [key: string]: JsonValue } {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Checks a patch's shape. Depth counts the section itself as level 1, so `{"a":{"b":1}}` is 2
 * deep. Keys may not contain `.`, space or `$` (IoT Hub reserves them); `$version` and other
 * `$`-keys at the top are ignored, as the hub ignores read-only metadata sent back to it.
 */
function validatePatch(patch: unknown): TwinProperties {
  if (!isObject(patch)) throw new TwinPatchError('a twin patch must be a JSON object');
  const walk = (obj: { [key: string]: JsonValue }, depth: number, top: boolean): void => {
    if (depth > TWIN_MAX_DEPTH) throw new TwinPatchError(`twin properties nest deeper than ${TWIN_MAX_DEPTH} levels`);
    for (const [key, value] of Object.entries(obj)) {
      if (top && key.startsWith('$')) continue;
      if (key.length === 0 || /[.$ ]/.test(key)) throw new TwinPatchError(`invalid twin property name "${key}" (no '.', '$' or spaces)`);
      if (isObject(value)) walk(value, depth + 1, false);
      else if (Array.isArray(value)) {
        for (const item of value) if (isObject(item)) walk(item, depth + 2, false);
      }
    }
  };
  walk(patch, 1, true);
  const clean: TwinProperties = {};
  for (const [key, value] of Object.entries(patch)) if (!key.startsWith('$')) clean[key] = value;
  return clean;
}

/** JSON merge patch (RFC 7386) semantics, as IoT Hub applies them: `null` deletes. */
function merge(target: TwinProperties, patch: TwinProperties): TwinProperties {
  const out: TwinProperties = { ...target };
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else if (isObject(value) && isObject(out[key])) out[key] = merge(out[key] as TwinProperties, value);
    else if (isObject(value)) out[key] = merge({}, value);
    else out[key] = value;
  }
  return out;
}

function sectionBytes(props: TwinProperties): number {
  return Buffer.byteLength(JSON.stringify(props), 'utf8');
}

export class TwinStore {
  private readonly twins = new Map<string, StoredTwin>();
  private readonly writer: CoalescingWriter;

  private constructor(path: string) {
    this.writer = new CoalescingWriter(path, () => JSON.stringify({ version: 1, twins: Object.fromEntries(this.twins) }) + '\n');
  }

  /** Waits for file writes in flight (the emulator stops only after them). */
  settled(): Promise<void> {
    return this.writer.settled();
  }

  static async open(dataDir: string): Promise<TwinStore> {
    const path = twinsPath(dataDir);
    const store = new TwinStore(path);
    const doc = await readJsonFile(path);
    if (doc !== undefined) {
      const twins = (doc as { twins?: unknown }).twins;
      if (!isObject(twins)) throw new EdgeError('EDGE_STORE_CORRUPT', `twin file ${path} has no "twins" object`);
      for (const [id, t] of Object.entries(twins)) store.twins.set(id, t as unknown as StoredTwin);
    }
    return store;
  }

  /** The twin as a GET returns it; a device never touched has empty sections at version 1. */
  get(deviceId: string): TwinDocument {
    const t = this.twins.get(deviceId) ?? fresh();
    return {
      desired: { ...structuredClone(t.desired), $version: t.desiredVersion },
      reported: { ...structuredClone(t.reported), $version: t.reportedVersion },
    };
  }

  /** Applies a device's reported patch; resolves with the new reported `$version` once durable. */
  async patchReported(deviceId: string, patch: unknown): Promise<number> {
    const t = this.apply(deviceId, patch, 'reported');
    await this.writer.save();
    return t.reportedVersion;
  }

  /**
   * Applies the service's desired patch; resolves (once durable) with the new version and the
   * patch as the device receives it (with `$version`).
   */
  async patchDesired(deviceId: string, patch: unknown): Promise<{ version: number; patch: VersionedProperties }> {
    const t = this.apply(deviceId, patch, 'desired');
    await this.writer.save();
    const clean = validatePatch(patch);
    return { version: t.desiredVersion, patch: { ...clean, $version: t.desiredVersion } };
  }

  remove(deviceId: string): Promise<void> {
    this.twins.delete(deviceId);
    return this.writer.save();
  }

  private apply(deviceId: string, patch: unknown, section: 'desired' | 'reported'): StoredTwin {
    const clean = validatePatch(patch);
    const t = this.twins.get(deviceId) ?? fresh();
    const merged = merge(t[section], clean);
    const bytes = sectionBytes(merged);
    if (bytes > TWIN_SECTION_MAX_BYTES) {
      throw new TwinPatchError(`${section} properties would be ${bytes} bytes; the limit is ${TWIN_SECTION_MAX_BYTES}`);
    }
    const next: StoredTwin = { ...t };
    if (section === 'desired') {
      next.desired = merged;
      next.desiredVersion = t.desiredVersion + 1;
    } else {
      next.reported = merged;
      next.reportedVersion = t.reportedVersion + 1;
    }
    this.twins.set(deviceId, next);
    return next;
  }
}

function fresh(): StoredTwin {
  return { desired: {}, desiredVersion: 1, reported: {}, reportedVersion: 1 };
}
