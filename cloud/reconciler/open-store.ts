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
export function openStore(location: string): ReconcilerStore {
  if (/^postgres(ql)?:\/\//.test(location)) return new PostgresStore(location);
  if (location.startsWith('sqlite:')) {
    const path = location.slice('sqlite:'.length);
    if (path === '') throw new EdgeError('EDGE_USAGE', 'store sqlite: needs a path, e.g. sqlite:./reconciler.db');
    return new SqliteStore(path);
  }
  if (/\.(db|sqlite3?)$/.test(location)) return new SqliteStore(location);
  throw new EdgeError('EDGE_USAGE', `unknown store "${location}": use sqlite:PATH or postgres://USER@HOST:PORT/DB`);
}
