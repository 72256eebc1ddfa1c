import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ReconcilerStore } from '../../../../cloud/reconciler/store.js';
import { SqliteStore } from '../../../../cloud/reconciler/stores/sqlite-store.js';

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
