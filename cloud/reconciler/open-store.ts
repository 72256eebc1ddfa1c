import { existsSync } from 'node:fs';
import { EdgeError } from '../../agent/core/errors.js';
import type { ReconcilerStore } from './store.js';
import { PostgresStore } from './stores/postgres-store.js';
import { SqliteStore } from './stores/sqlite-store.js';

/** Where the store lives when nothing says otherwise: beside the working directory. */
export const DEFAULT_STORE_LOCATION = 'sqlite:./reconciler.db';

/**
 * Opens a store from a location string: `sqlite:PATH` (or a bare path ending in .db/.sqlite)
 * for SQLite, `postgres://…` / `postgresql://…` for PostgreSQL. The caller runs `migrate()`.
 */
export function openStore(location: string, options: { mustExist?: boolean } = {}): ReconcilerStore {
  if (/^postgres(ql)?:\/\//.test(location)) return new PostgresStore(location);
  let path: string;
  if (location.startsWith('sqlite:')) path = location.slice('sqlite:'.length);
  else if (/\.(db|sqlite3?)$/.test(location)) path = location;
  else throw new EdgeError('EDGE_USAGE', `unknown store "${location}": use sqlite:PATH or postgres://USER@HOST:PORT/DB`);
  if (path === '') throw new EdgeError('EDGE_USAGE', 'store sqlite: needs a path, e.g. sqlite:./reconciler.db');
  // Readers must not create an empty store where they expected the service's one (a typo'd path).
  if (options.mustExist && path !== ':memory:' && !existsSync(path)) {
    throw new EdgeError('EDGE_DATA_DIR_UNUSABLE', `no reconciler store at ${path} (edge-agent cloud run --store sqlite:${path} creates it)`);
  }
  return new SqliteStore(path);
}
