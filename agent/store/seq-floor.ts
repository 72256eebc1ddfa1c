import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { systemErrorCode } from '../core/errors.js';

/** What the outbox is told at open about seqs used before. */
export interface SeqFloorView {
  floor: number;
  /** The floor binds (nextSeq ≥ floor): exact after a clean stop, or the reservation once damage was seen. */
  binding: boolean;
}

/** Seqs reserved ahead per write of the floor file: one small fsync per this many records. */
export const SEQ_BLOCK = 10_000;

/**
 * A promise about seqs kept outside LevelDB: no seq at or above the stored number has been
 * handed out. Written (fsync + rename) before seqs beyond it are used, a block at a time, and
 * exactly at a clean stop (`<next> clean`). If the store loses its counter or its newest writes
 * (damage, a torn log), counting resumes from here, so a seq never goes back.
 *
 * When the floor binds: after a clean stop it is exact, so it always does. After a crash it is a
 * reservation up to SEQ_BLOCK ahead; it binds when the store shows damage or its writes were not
 * each fsynced (journal `interval` mode), since then the store's own counter may have gone back.
 * With per-commit fsync and no damage, the store's counter is itself durable, and following it
 * keeps seqs dense across crashes.
 */
export class SeqFloor {
  private reserved: number;

  private constructor(
    private readonly path: string,
    reserved: number,
    /** The file was written by a clean stop: `reserved` is exactly the next seq. */
    readonly clean: boolean,
  ) {
    this.reserved = reserved;
  }

  static open(dataDir: string): SeqFloor {
    const path = join(dataDir, 'seq-floor');
    let reserved = 1;
    let clean = false;
    try {
      const [n, mark] = readFileSync(path, 'utf8').trim().split(/\s+/);
      const value = Number(n);
      if (Number.isSafeInteger(value) && value > 0) {
        reserved = value;
        clean = mark === 'clean';
      }
    } catch (err) {
      if (systemErrorCode(err) !== 'ENOENT') throw err;
    }
    return new SeqFloor(path, reserved, clean);
  }

  /** The first seq that may be used after a loss of the store's own counter. */
  get floor(): number {
    return this.reserved;
  }

  /** What the outbox is told at open (see the class comment for when the floor binds). */
  view(opts: { damaged: boolean; everyCommitSynced: boolean }): SeqFloorView {
    return { floor: this.reserved, binding: this.clean || opts.damaged || !opts.everyCommitSynced };
  }

  /** Call before handing out seqs below `upTo` (exclusive): extends the reservation if needed. */
  reserve(upTo: number): void {
    if (upTo <= this.reserved) return;
    this.write(`${upTo + SEQ_BLOCK}\n`);
    this.reserved = upTo + SEQ_BLOCK;
  }

  /** At a clean stop, after the store closed: `next` is exactly the seq the next record gets. */
  markClean(next: number): void {
    this.write(`${next} clean\n`);
    this.reserved = next;
  }

  private write(text: string): void {
    const tmp = `${this.path}.tmp`;
    const fd = openSync(tmp, 'w', 0o640);
    try {
      writeSync(fd, text);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.path);
  }
}
