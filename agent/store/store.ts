import { accessSync, constants, mkdirSync, statSync } from 'node:fs';
import { Level } from 'level';
import type { AbstractSublevel } from 'abstract-level';
import { EdgeError, errorMessage, systemErrorCode } from '../core/errors.js';

export type Sublevel = AbstractSublevel<Level<string, Buffer>, string | Buffer | Uint8Array, string, Buffer>;

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
    this.journal = db.sublevel<string, Buffer>('journal', { valueEncoding: 'buffer' });
    this.outbox = db.sublevel<string, Buffer>('outbox', { valueEncoding: 'buffer' });
    this.sent = db.sublevel<string, Buffer>('sent', { valueEncoding: 'buffer' });
    this.meta = db.sublevel<string, Buffer>('meta', { valueEncoding: 'buffer' });
    this.damaged = db.sublevel<string, Buffer>('damaged', { valueEncoding: 'buffer' });
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
    return new AgentStore(dir, db);
  }

  async close(): Promise<void> {
    await this.db.close();
  }
}

function ensureUsableDir(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true });
    if (!statSync(dir).isDirectory()) throw new Error('not a directory');
    accessSync(dir, constants.R_OK | constants.W_OK | constants.X_OK);
  } catch (cause) {
    throw new EdgeError('EDGE_DATA_DIR_UNUSABLE', `the data directory ${dir} is not usable: ${errorMessage(cause)}`, { cause });
  }
}
