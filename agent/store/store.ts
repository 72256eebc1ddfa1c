import { accessSync, constants, statSync } from 'node:fs';
import { Level } from 'level';
import type { AbstractSublevel } from 'abstract-level';
import { EdgeError, errorMessage, systemErrorCode } from '../core/errors.js';
import { isDiskFull } from './disk-full.js';
import { makeDir } from './make-dir.js';

export type Sublevel = AbstractSublevel<Level<string, Buffer>, string | Buffer | Uint8Array, string, Buffer>;

/**
 * Sublevel names on disk. Their order matters: a LevelDB compaction takes every table whose key
 * range overlaps the new level-0 tables, and a level-0 table spans from the smallest to the
 * largest key written while it filled. During an outage the agent writes the outbox's tail,
 * the journal and the metadata; with those two named after the outbox (and before `sent`), a
 * compaction touches the outbox's newest tables only, not the whole backlog. Named `journal`
 * and `meta` (before `outbox`), every compaction rewrote the backlog: peak RSS while ingesting
 * 1 M records fell from 113 to 98 MB with this order (BENCHMARKS.md, buffer suite).
 */
const NAMES = { outbox: 'outbox', journal: 'readings', meta: 'progress', sent: 'sent', damaged: 'damaged' } as const;
/** Where the journal and the metadata lived before; moved on open (`migrateNames`). */
const FORMER_NAMES = { journal: 'journal', meta: 'meta' } as const;
const MOVE_BATCH = 1000;

const sublevelOf = (db: Level<string, Buffer>, name: string): Sublevel => db.sublevel<string, Buffer>(name, { valueEncoding: 'buffer' });

/**
 * The agent's one LevelDB. The journal, outbox and metadata are sublevels of it so that a
 * stage can move data between them in one atomic batch (journal cursor, outbox records and
 * the seq counter commit together or not at all).
 */
export class AgentStore {
  readonly journal: Sublevel;
  readonly outbox: Sublevel;
  /** Acknowledged records kept for the retention period (resend requests). */
  readonly sent: Sublevel;
  readonly meta: Sublevel;
  /** Records whose checksum failed, moved here (never deleted) so a person can look at them. */
  readonly damaged: Sublevel;
  /** Records quarantined since this store was opened. */
  damagedRecords = 0;

  private constructor(
    readonly dir: string,
    readonly db: Level<string, Buffer>,
  ) {
    this.journal = sublevelOf(db, NAMES.journal);
    this.outbox = sublevelOf(db, NAMES.outbox);
    this.sent = sublevelOf(db, NAMES.sent);
    this.meta = sublevelOf(db, NAMES.meta);
    this.damaged = sublevelOf(db, NAMES.damaged);
  }

  /**
   * Moves what a store written before the rename holds under the former names. Each batch puts
   * and deletes together, so a crash part-way leaves every entry in exactly one place and the
   * next open carries on.
   */
  private async migrateNames(): Promise<void> {
    const moves: Array<[Sublevel, Sublevel]> = [
      [sublevelOf(this.db, FORMER_NAMES.journal), this.journal],
      [sublevelOf(this.db, FORMER_NAMES.meta), this.meta],
    ];
    for (const [from, to] of moves) {
      for (;;) {
        const entries = await from.iterator({ limit: MOVE_BATCH }).all();
        if (entries.length === 0) break;
        await this.db.batch(entries.flatMap(([key, value]) => [
          { type: 'put' as const, sublevel: to, key, value },
          { type: 'del' as const, sublevel: from, key },
        ]), { sync: true });
      }
    }
  }

  /**
   * Moves a record that failed its checksum out of the way, keeping its bytes, so that one bad
   * record never stalls the pipeline. Callers count what it meant (a reading or seq lost).
   */
  async quarantine(area: 'journal' | 'outbox' | 'sent', key: string, value: Buffer): Promise<void> {
    const from = area === 'journal' ? this.journal : area === 'outbox' ? this.outbox : this.sent;
    await this.db.batch([
      { type: 'put', sublevel: this.damaged, key: `${area}!${key}`, value },
      { type: 'del', sublevel: from, key },
    ]);
    this.damagedRecords++;
  }

  static async open(dir: string): Promise<AgentStore> {
    ensureUsableDir(dir);
    // A gateway has little memory: small memtables and block cache keep the buffer's footprint
    // flat (measured in BENCHMARKS.md: buffer suite) at a small cost in compaction work. LevelDB
    // memory-maps every table it keeps open, and the pages it has read stay in the process's RSS
    // until the table leaves its cache: 16 open files (6 tables) instead of 1,000 took the drain
    // of a 1 M-record backlog from 150 to 129 MB peak RSS.
    const db = new Level<string, Buffer>(dir, { keyEncoding: 'utf8', valueEncoding: 'buffer', writeBufferSize: 2 * 1024 * 1024, cacheSize: 2 * 1024 * 1024, maxOpenFiles: 16 });
    try {
      await db.open();
    } catch (err) {
      const cause = err instanceof Error ? err.cause : undefined;
      if (systemErrorCode(cause) === 'LEVEL_LOCKED') {
        throw new EdgeError('EDGE_STORE_LOCKED', `the buffer in ${dir} is in use by another edge-agent process`, { cause: err });
      }
      throw new EdgeError('EDGE_STORE_CORRUPT', `the buffer in ${dir} cannot be opened: ${errorMessage(cause ?? err)}`, { cause: err });
    }
    const store = new AgentStore(dir, db);
    try {
      await store.migrateNames();
    } catch (err) {
      await db.close().catch(() => undefined);
      // A full disk is not damage: the store must stay where it is (and be retried), not be moved aside.
      const code = isDiskFull(err) ? 'EDGE_DISK_FULL' : 'EDGE_STORE_CORRUPT';
      throw new EdgeError(code, `the buffer in ${dir} cannot be brought to the current layout: ${errorMessage(err)}`, { cause: err });
    }
    return store;
  }

  async close(): Promise<void> {
    await this.db.close();
  }
}

function ensureUsableDir(dir: string): void {
  try {
    makeDir(dir);
    if (!statSync(dir).isDirectory()) throw new Error('not a directory');
    accessSync(dir, constants.R_OK | constants.W_OK | constants.X_OK);
  } catch (cause) {
    throw new EdgeError('EDGE_DATA_DIR_UNUSABLE', `the data directory ${dir} is not usable: ${errorMessage(cause)}`, { cause });
  }
}
