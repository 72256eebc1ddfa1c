import { accessSync, constants, renameSync, statSync } from 'node:fs';
import { Level } from 'level';
import type { AbstractBatchOperation, AbstractSublevel } from 'abstract-level';
import { EdgeError, errorMessage, systemErrorCode } from '../core/errors.js';
import { Signal } from '../core/signal.js';
import { isDiskFull } from './disk-full.js';
import { faultOf, type StoreFault } from './store-fault.js';
import { META } from './meta-keys.js';
import { makeDir } from './make-dir.js';

export type Sublevel = AbstractSublevel<Level<string, Buffer>, string | Buffer | Uint8Array, string, Buffer>;
export type StoreOp = AbstractBatchOperation<Level<string, Buffer>, string, Buffer>;

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
  /** Set while the store refuses writes; see `StoreFault`. Cleared by `reopen` or `replace`. */
  private faultState: StoreFault | undefined;
  /** Fires when a fault is first noticed. */
  readonly faulted = new Signal();
  /** Fires when the store takes writes again after a fault. */
  readonly healed = new Signal();

  private constructor(
    readonly dir: string,
    readonly db: Level<string, Buffer>,
    private readonly clock: () => number,
  ) {
    this.journal = sublevelOf(db, NAMES.journal);
    this.outbox = sublevelOf(db, NAMES.outbox);
    this.sent = sublevelOf(db, NAMES.sent);
    this.meta = sublevelOf(db, NAMES.meta);
    this.damaged = sublevelOf(db, NAMES.damaged);
  }

  get fault(): StoreFault | undefined {
    return this.faultState;
  }

  /**
   * The one way anything writes: an atomic batch. While a fault holds, it refuses at once without
   * touching LevelDB — a write after a failed one may land behind a torn log record and be dropped
   * at the next open, though LevelDB said it succeeded.
   */
  async write(ops: StoreOp[], options: { sync?: boolean } = {}): Promise<void> {
    if (this.faultState) throw this.refusal(this.faultState);
    try {
      await this.db.batch(ops, options);
    } catch (err) {
      throw this.notice(err);
    }
    // LevelDB ran this write after one that failed: it may sit behind a torn log record and vanish
    // at the next open. Reported failed, so nothing is acknowledged on its strength.
    if (this.faultState) throw this.refusal(this.faultState);
  }

  /**
   * Deletes the keys of `sub` in `range` in LevelDB's own loop, off the event loop: no op (and
   * no JavaScript object) per key. Unsynced and not atomic with anything: only for keys that an
   * earlier committed write already made garbage. Refused, like `write`, while a fault holds.
   */
  async clear(sub: Sublevel, range: { gt?: string; lte: string }): Promise<void> {
    if (this.faultState) throw this.refusal(this.faultState);
    try {
      await sub.clear(range);
    } catch (err) {
      throw this.notice(err);
    }
  }

  /**
   * Classifies an error from any store operation (reads too: corruption often shows first in an
   * iterator or a compaction). A disk-full or damage error raises the fault; returns what to throw.
   */
  notice(err: unknown): unknown {
    if (err instanceof EdgeError && (err.code === 'EDGE_DISK_FULL' || err.code === 'EDGE_STORE_DAMAGED')) return err;
    // Closed for healing: whatever met the closed store is part of the fault, not a failure of its own.
    if (this.faultState && CLOSED_CODES.has(systemErrorCode(err) ?? '')) return this.refusal(this.faultState, err);
    const kind = faultOf(err);
    if (!kind) return err;
    // Damage found while waiting out a full disk outranks it: reopening will not mend it.
    if (!this.faultState || (kind === 'damaged' && this.faultState.kind === 'disk-full')) {
      this.faultState = { kind, message: errorMessage(err), since: this.faultState?.since ?? this.clock() };
      this.faulted.notify();
    }
    return this.refusal(this.faultState, err);
  }

  private refusal(fault: StoreFault, cause: unknown = undefined): EdgeError {
    return fault.kind === 'disk-full'
      ? new EdgeError('EDGE_DISK_FULL', `the disk holding ${this.dir} is full: ${fault.message}`, { cause })
      : new EdgeError('EDGE_STORE_DAMAGED', `the buffer in ${this.dir} is damaged: ${fault.message}`, { cause });
  }

  /**
   * Closes and opens LevelDB again, which clears a sticky background error and starts a fresh log,
   * then proves the store takes a synced write. Throws (and the fault stays) if it does not.
   */
  async reopen(): Promise<void> {
    await this.db.close().catch(() => undefined);
    await this.openAll();
    try {
      await this.db.batch([{ type: 'put', sublevel: this.meta, key: META.probe, value: Buffer.alloc(0) }], { sync: true });
    } catch (err) {
      throw this.notice(err);
    }
    this.faultState = undefined;
    this.healed.notify();
  }

  /**
   * Renames the store's directory to `<dir>.damaged-<time>` (never deleted) and opens a fresh, empty
   * store in its place under the same handle, so every part keeps its references. Returns where
   * the old one went.
   */
  async replace(now: number): Promise<string> {
    await this.db.close().catch(() => undefined);
    const movedTo = moveAside(this.dir, now);
    await this.openAll();
    this.faultState = undefined;
    this.damagedRecords = 0;
    return movedTo;
  }

  /** Marks the store usable after `replace` and the salvage that follows it. */
  announceHealed(): void {
    this.healed.notify();
  }

  private async openAll(): Promise<void> {
    try {
      await this.db.open();
      for (const sub of [this.journal, this.outbox, this.sent, this.meta, this.damaged]) await sub.open();
    } catch (err) {
      throw this.notice(err);
    }
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
        await this.write(entries.flatMap(([key, value]) => [
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
    await this.write([
      { type: 'put', sublevel: this.damaged, key: `${area}!${key}`, value },
      { type: 'del', sublevel: from, key },
    ]);
    this.damagedRecords++;
  }

  static async open(dir: string, clock: () => number = Date.now, options: StoreOptions = {}): Promise<AgentStore> {
    ensureUsableDir(dir);
    // A gateway has little memory: small memtables and block cache keep the buffer's footprint
    // flat (measured in BENCHMARKS.md: buffer suite) at a small cost in compaction work. LevelDB
    // memory-maps every table it keeps open, and the pages it has read stay in the process's RSS
    // until the table leaves its cache: 16 open files (6 tables) instead of 1,000 took the drain
    // of a 1 M-record backlog from 150 to 129 MB peak RSS.
    // The memtable's size is the config's (`storage.writeBufferBytes`): a large gateway's rate fills 2 MB four times a second.
    const db = new Level<string, Buffer>(dir, { keyEncoding: 'utf8', valueEncoding: 'buffer', writeBufferSize: options.writeBufferBytes ?? DEFAULT_WRITE_BUFFER, cacheSize: 2 * 1024 * 1024, maxOpenFiles: 16 });
    try {
      await db.open();
    } catch (err) {
      const cause = err instanceof Error ? err.cause : undefined;
      if (systemErrorCode(cause) === 'LEVEL_LOCKED') {
        throw new EdgeError('EDGE_STORE_LOCKED', `the buffer in ${dir} is in use by another edge-agent process`, { cause: err });
      }
      if (isDiskFull(err)) throw new EdgeError('EDGE_DISK_FULL', `the buffer in ${dir} cannot be opened: the disk is full (${errorMessage(cause ?? err)})`, { cause: err });
      throw new EdgeError('EDGE_STORE_DAMAGED', `the buffer in ${dir} cannot be opened: ${errorMessage(cause ?? err)}`, { cause: err });
    }
    const store = new AgentStore(dir, db, clock);
    try {
      await store.migrateNames();
    } catch (err) {
      await db.close().catch(() => undefined);
      // A full disk is not damage: the store must stay where it is (and be retried), not be moved aside.
      const code = isDiskFull(err) ? 'EDGE_DISK_FULL' : 'EDGE_STORE_DAMAGED';
      throw new EdgeError(code, `the buffer in ${dir} cannot be brought to the current layout: ${errorMessage(err)}`, { cause: err });
    }
    return store;
  }

  async close(): Promise<void> {
    await this.db.close();
  }
}

export interface StoreOptions {
  /** LevelDB's write buffer (memtable), bytes; kept across `reopen` and `replace`. */
  writeBufferBytes?: number;
}

const DEFAULT_WRITE_BUFFER = 2 * 1024 * 1024;

/** What a read or write meets when the store was closed under it (to be reopened or replaced). */
const CLOSED_CODES = new Set(['LEVEL_DATABASE_NOT_OPEN', 'LEVEL_ITERATOR_NOT_OPEN']);

/** `<dir>.damaged-<ISO time>`, with a counter if a store was already moved there this millisecond. */
export function moveAside(dir: string, now: number): string {
  const base = `${dir}.damaged-${new Date(now).toISOString().replace(/[:.]/g, '-')}`;
  for (let n = 0; ; n++) {
    const target = n === 0 ? base : `${base}-${n}`;
    try {
      statSync(target);
    } catch {
      renameSync(dir, target);
      return target;
    }
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
