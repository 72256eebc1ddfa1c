import type { ColumnType, ResultRow, ViewSpec } from './store.js';

export type { ColumnType, ViewColumn, ViewSpec } from './store.js';

/**
 * One SQL view per query output, so a chart or a SQL client reads results without JSON or
 * time arithmetic: `results_<query>_<out>` with
 *
 *   device | window_start | window_end | key_1 … key_n | <one column per SELECT alias> | rev | seq | complete
 *
 * - Times are `timestamptz` in PostgreSQL and ISO 8601 text (UTC, ms) in SQLite.
 * - `key_i` is the i-th GROUP BY value (the wire carries the values in GROUP BY order, not
 *   their names).
 * - An alias column is typed by what was seen: numbers → double precision, booleans →
 *   boolean, strings → text; an alias whose every value equals the window end (or start) is a
 *   time (`System.Timestamp() AS …`: datetimes travel as epoch ms, like numbers). Aliases that are
 *   not plain identifiers are left out of the view (they stay in `results.row`).
 * - Only the current revision exists: the results table keeps the highest (rev, seq) per window.
 * - `complete`: the window is past its allowed lateness by the hub's clock (the device's latest
 *   message was enqueued at or after window end + lateness) and the device's seqs up to the row's
 *   have no open gap (contiguous_seq ≥ seq; lost and rejected seqs are closed, not open).
 */
export type Dialect = 'sqlite' | 'postgres';

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
const FIXED = new Set(['device', 'window_start', 'window_end', 'rev', 'seq', 'complete']);

export function viewName(query: string, out: string): string {
  const slug = (s: string) => s.toLowerCase().replace(/[^a-z0-9_]/g, '_');
  return `results_${slug(query)}_${slug(out)}`.slice(0, 63);
}

interface Observed {
  spec: ViewSpec;
  /** Per alias: the kinds of value seen, and whether every value equalled a window bound. */
  seen: Map<string, { kinds: Set<ColumnType>; alwaysBound: boolean }>;
}

/**
 * What the views look like, learnt from the result rows as they are committed. `observe` says
 * whether any view changed shape (a new query output, alias, key or type), so the store only
 * recreates views then.
 */
export class ViewCatalog {
  private readonly byOutput = new Map<string, Observed>();

  constructor(initial: readonly ViewSpec[] = []) {
    for (const spec of initial) {
      const seen = new Map(spec.columns.map((c) => [c.alias, { kinds: new Set<ColumnType>([c.type === 'time' ? 'number' : c.type]), alwaysBound: c.type === 'time' }]));
      this.byOutput.set(`${spec.query}\u0000${spec.out}`, { spec: { ...spec, columns: [...spec.columns] }, seen });
    }
  }

  observe(rows: Iterable<ResultRow>): boolean {
    let changed = false;
    for (const r of rows) {
      const id = `${r.query}\u0000${r.out}`;
      let o = this.byOutput.get(id);
      if (!o) {
        o = { spec: { query: r.query, out: r.out, keyCount: 0, columns: [] }, seen: new Map() };
        this.byOutput.set(id, o);
        changed = true;
      }
      const keyCount = keyArity(r.key);
      if (keyCount > o.spec.keyCount) {
        o.spec.keyCount = keyCount;
        changed = true;
      }
      for (const [alias, value] of Object.entries(r.row)) {
        if (!IDENTIFIER.test(alias) || value === null || value === undefined) continue;
        const kind: ColumnType = typeof value === 'number' ? 'number' : typeof value === 'boolean' ? 'boolean' : 'text';
        const isBound = typeof value === 'number' && (value === r.we || value === r.ws);
        let s = o.seen.get(alias);
        if (!s) {
          s = { kinds: new Set(), alwaysBound: isBound };
          o.seen.set(alias, s);
        }
        s.kinds.add(kind);
        s.alwaysBound &&= isBound;
        const type: ColumnType = s.kinds.size > 1 ? 'text' : kind === 'number' && s.alwaysBound ? 'time' : kind;
        const column = o.spec.columns.find((c) => c.alias === alias);
        if (!column) {
          o.spec.columns.push({ alias, type });
          changed = true;
        } else if (column.type !== type) {
          column.type = type;
          changed = true;
        }
      }
    }
    return changed;
  }

  specs(): ViewSpec[] {
    return [...this.byOutput.values()].map((o) => ({ ...o.spec, columns: o.spec.columns.map((c) => ({ ...c })) }));
  }
}

/**
 * A stored shape and a new one together: every column either knows, the wider key, `number`
 * where one saw a time and the other a number, `text` where they disagree otherwise. Instances
 * sharing a database each learn from their own partitions, so one must never narrow a view
 * another widened.
 */
export function mergeSpec(stored: ViewSpec | undefined, incoming: ViewSpec): ViewSpec {
  if (!stored) return incoming;
  const columns = stored.columns.map((c) => ({ ...c }));
  for (const c of incoming.columns) {
    const have = columns.find((x) => x.alias === c.alias);
    if (!have) columns.push({ ...c });
    // A time is a number that always equalled a window bound: seen otherwise elsewhere, a number.
    else if (have.type !== c.type) have.type = [have.type, c.type].every((t) => t === 'time' || t === 'number') ? 'number' : 'text';
  }
  return { query: incoming.query, out: incoming.out, keyCount: Math.max(stored.keyCount, incoming.keyCount), columns };
}

function keyArity(key: string): number {
  try {
    const parsed: unknown = JSON.parse(key);
    return Array.isArray(parsed) ? parsed.length : 0;
  } catch {
    return 0;
  }
}

const ident = (s: string) => `"${s.replace(/"/g, '""')}"`;
const literal = (s: string) => `'${s.replace(/'/g, "''")}'`;

/** Statements that (re)create one view: dropped first, because a view's columns cannot change in place. */
export function viewSql(spec: ViewSpec, dialect: Dialect, latenessMs: number): string[] {
  const name = ident(viewName(spec.query, spec.out));
  const pg = dialect === 'postgres';
  const time = (ms: string) => (pg ? `to_timestamp((${ms})::double precision / 1000.0)` : `strftime('%Y-%m-%dT%H:%M:%fZ', (${ms}) / 1000.0, 'unixepoch')`);
  const field = (alias: string) => (pg ? `(r.row ->> ${literal(alias)})` : `json_extract(r.row, ${literal(`$.${alias}`)})`);
  const columns = [
    'r.device AS device',
    `CASE WHEN r.ws IS NULL THEN NULL ELSE ${time('r.ws')} END AS window_start`,
    `${time('r.we')} AS window_end`,
  ];
  for (let i = 0; i < spec.keyCount; i++) {
    // Text in both dialects, as PostgreSQL's ->> gives it: a GROUP BY value may be a number in one
    // window and a string in another, and a client must not see 7 from one store and '7' from the other.
    const sqliteKey = `CASE json_type(r.key, '$[${i}]') WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' ELSE CAST(json_extract(r.key, '$[${i}]') AS TEXT) END`;
    columns.push(`${pg ? `(r.key::jsonb ->> ${i})` : sqliteKey} AS ${ident(`key_${i + 1}`)}`);
  }
  const names = aliasColumns(spec);
  for (const [n, c] of spec.columns.entries()) {
    const as = names[n]!.name;
    const raw = field(c.alias);
    const expr =
      c.type === 'time'
        ? time(raw)
        : c.type === 'number'
          ? pg
            ? `${raw}::double precision`
            : raw
          : c.type === 'boolean'
            ? pg
              ? `${raw}::boolean`
              : raw
            : raw;
    columns.push(`${expr} AS ${ident(as)}`);
  }
  columns.push('r.rev AS rev', 'r.seq AS seq');
  const lateness = Math.max(0, Math.floor(latenessMs));
  columns.push(`COALESCE(d.contiguous_seq >= r.seq AND d.last_enqueued >= r.we + ${lateness}, ${pg ? 'false' : '0'}) AS complete`);
  return [
    `DROP VIEW IF EXISTS ${name}`,
    `CREATE VIEW ${name} AS SELECT ${columns.join(', ')} FROM results r LEFT JOIN devices d ON d.device = r.device ` +
      `WHERE r.query = ${literal(spec.query)} AND r.out = ${literal(spec.out)}`,
  ];
}

/** The view's column name and type for each alias, in order (an alias that collides with a fixed or key column gets `_value` appended). */
export function aliasColumns(spec: ViewSpec): Array<{ name: string; type: ColumnType }> {
  const used = new Set([...FIXED, ...Array.from({ length: spec.keyCount }, (_, i) => `key_${i + 1}`)]);
  return spec.columns.map((c) => {
    let as = c.alias;
    while (used.has(as.toLowerCase())) as = `${as}_value`;
    used.add(as.toLowerCase());
    return { name: as, type: c.type };
  });
}

/** The catalog table, so a restarted reconciler knows the views' columns without rereading every result. */
export function viewCatalogSql(dialect: Dialect): string {
  return `CREATE TABLE IF NOT EXISTS result_views (query TEXT NOT NULL, out TEXT NOT NULL, spec ${dialect === 'postgres' ? 'JSONB' : 'TEXT'} NOT NULL, PRIMARY KEY (query, out))`;
}
