import { EdgeError } from '../core/errors.js';
import { newEnv, type Eval } from './expressions.js';
import type { Row } from './operator.js';

/**
 * One reference-data table (ASA's reference input): rows without time, joined by key. It is
 * replaced whole (AnalyticsEngine.setReferenceData), never edited, so a reload is atomic: an event
 * sees the old table or the new one, never half of each. Indexes by a JOIN's key are built on
 * first use.
 */
export class ReferenceTable {
  private readonly indexes = new Map<Eval, Map<string, Row[]>>();

  constructor(
    readonly name: string,
    readonly rows: readonly Row[],
  ) {}

  /** Rows whose key (evaluated on the row alone) is `key`; a NULL key value matches nothing. */
  lookup(keyOf: Eval, key: string): readonly Row[] {
    let index = this.indexes.get(keyOf);
    if (index === undefined) {
      index = new Map();
      const env = newEnv();
      for (const r of this.rows) {
        env.row = r;
        const k = keyOf(env) as string | null;
        if (k === null) continue;
        const list = index.get(k);
        if (list === undefined) index.set(k, [r]);
        else list.push(r);
      }
      this.indexes.set(keyOf, index);
    }
    return index.get(key) ?? NONE;
  }
}

const NONE: readonly Row[] = [];

/** Checks what a caller hands in as a table: an array of JSON objects. */
export function checkedRows(name: string, rows: unknown): Row[] {
  if (!Array.isArray(rows)) throw new EdgeError('EDGE_CONFIG_INVALID', `reference data '${name}' must be a list of records`);
  rows.forEach((r, i) => {
    if (r === null || typeof r !== 'object' || Array.isArray(r)) throw new EdgeError('EDGE_CONFIG_INVALID', `reference data '${name}', row ${i + 1}: expected a record`);
  });
  return rows as Row[];
}

/**
 * Reference tables from the twin's desired properties: `{ name: [records…], … }` (the section the
 * configuration keeps them in). Each table is checked on its own, so one bad table is reported
 * (and the engine keeps its last good version) while the good ones are applied.
 */
export function referenceTablesFromDesired(section: unknown): { tables: Record<string, Row[]>; errors: EdgeError[] } {
  const tables: Record<string, Row[]> = {};
  const errors: EdgeError[] = [];
  if (section === null || typeof section !== 'object' || Array.isArray(section)) {
    errors.push(new EdgeError('EDGE_CONFIG_INVALID', 'reference data in the twin must be an object of tables (name: [records])'));
    return { tables, errors };
  }
  for (const [name, rows] of Object.entries(section as Record<string, unknown>)) {
    // The twin adds its own bookkeeping ($version, …) beside the tables.
    if (name.startsWith('$')) continue;
    try {
      tables[name] = checkedRows(name, rows);
    } catch (err) {
      errors.push(err as EdgeError);
    }
  }
  return { tables, errors };
}
