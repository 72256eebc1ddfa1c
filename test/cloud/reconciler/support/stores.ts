import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ReconcilerStore } from '../../../../cloud/reconciler/store.js';
import { SqliteStore } from '../../../../cloud/reconciler/stores/sqlite-store.js';
import { PostgresStore } from '../../../../cloud/reconciler/stores/postgres-store.js';
import { startPostgres, type PostgresServer } from '../../../support/postgres.js';

/** Makes a fresh, empty store per call; `cleanup` removes everything it made. */
export interface StoreFactory {
  name: string;
  create(): Promise<ReconcilerStore>;
  /** Opens the store a previous `create` made again (restart after a crash). */
  reopen(store: ReconcilerStore): Promise<ReconcilerStore>;
  /** A location string the CLI or a child process accepts (`sqlite:PATH` or a postgres:// URL). */
  locationOf(store: ReconcilerStore): string;
  cleanup(): Promise<void>;
}

export function sqliteStores(): StoreFactory {
  const dir = mkdtempSync(join(tmpdir(), 'reconciler-sqlite-'));
  const paths = new WeakMap<ReconcilerStore, string>();
  let n = 0;
  const open = (path: string) => {
    const store = new SqliteStore(path);
    paths.set(store, path);
    return store;
  };
  return {
    name: 'sqlite',
    async create() {
      return open(join(dir, `store-${++n}.db`));
    },
    async reopen(store) {
      return open(paths.get(store)!);
    },
    locationOf(store) {
      return `sqlite:${paths.get(store)!}`;
    },
    async cleanup() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** One throwaway PostgreSQL server (started on first use), one fresh database per store. */
export function postgresStores(): StoreFactory {
  let server: Promise<PostgresServer> | undefined;
  const urls = new WeakMap<ReconcilerStore, string>();
  const stores: ReconcilerStore[] = [];
  const open = (url: string) => {
    const store = new PostgresStore(url);
    urls.set(store, url);
    stores.push(store);
    return store;
  };
  return {
    name: 'postgres',
    async create() {
      server ??= startPostgres();
      return open(await (await server).createDatabase());
    },
    async reopen(store) {
      return open(urls.get(store)!);
    },
    locationOf(store) {
      return urls.get(store)!;
    },
    async cleanup() {
      await Promise.all(stores.map((s) => s.close()));
      if (server) await (await server).stop();
    },
  };
}

/** Both stores: every store-facing suite runs on each. */
export function allStores(): StoreFactory[] {
  return [sqliteStores(), postgresStores()];
}
