import type { AgentConfig } from '../config/schema.js';

/** Where a config value came from. */
export type Provenance = 'file' | 'twin' | 'default';

/**
 * Names the origin of every leaf of the effective config (dotted paths; arrays are one leaf, as
 * the twin replaces them whole): `twin` when it differs from what the file gave, `file` when the
 * file's document sets it, `default` otherwise.
 *
 * The twin seam: with a twin overlay in force, `effective` is the overlaid config and `fileConfig`
 * the file's alone; nothing else here needs to know how the overlay was made.
 */
export function configProvenance(o: { effective: AgentConfig; fileConfig: AgentConfig; fileDocument: unknown }): Record<string, Provenance> {
  const out: Record<string, Provenance> = {};
  const walk = (eff: unknown, file: unknown, doc: unknown, path: string[]): void => {
    if (isPlainObject(eff)) {
      const keys = new Set([...Object.keys(eff), ...(isPlainObject(file) ? Object.keys(file) : [])]);
      for (const k of keys) walk(eff[k], isPlainObject(file) ? file[k] : undefined, isPlainObject(doc) ? doc[k] : undefined, [...path, k]);
      return;
    }
    if (eff === undefined) return;
    const key = path.join('.');
    if (JSON.stringify(eff) !== JSON.stringify(file)) out[key] = 'twin';
    else out[key] = doc !== undefined ? 'file' : 'default';
  };
  walk(o.effective, o.fileConfig, o.fileDocument, []);
  return out;
}

const SECRET = /(SharedAccessKey=)[^;]+/g;

/** A copy safe to print: keys in connection strings, DPS keys and passphrases are hidden. */
export function redact<T>(config: T): T {
  return JSON.parse(
    JSON.stringify(config, (key, value: unknown) => {
      if (typeof value === 'string' && key === 'connectionString') return value.replace(SECRET, '$1***');
      if ((key === 'passphrase' || key === 'symmetricKey' || key === 'groupKey') && typeof value === 'string') return '***';
      return value;
    }),
  ) as T;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
