import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { systemErrorCode } from '../core/errors.js';

/** Seqs reserved ahead per write of the floor file: one small fsync per this many records. */
export const SEQ_BLOCK = 10_000;

/**
 * A promise about seqs kept outside LevelDB: no seq at or above the stored number has been
 * handed out. If the buffer is damaged and replaced by a fresh one, counting resumes from
 * here, so a seq never goes back even when the counter inside the store is lost.
 */
export class SeqFloor {
  private reserved: number;

  private constructor(
    private readonly path: string,
    reserved: number,
  ) {
    this.reserved = reserved;
  }

  static open(dataDir: string): SeqFloor {
    const path = join(dataDir, 'seq-floor');
    let reserved = 1;
    try {
      const n = Number(readFileSync(path, 'utf8').trim());
      if (Number.isSafeInteger(n) && n > 0) reserved = n;
    } catch (err) {
      if (systemErrorCode(err) !== 'ENOENT') throw err;
    }
    return new SeqFloor(path, reserved);
  }

  /** The first seq that may be used after a loss of the store's own counter. */
  get floor(): number {
    return this.reserved;
  }

  /** Call before handing out seqs below `upTo` (exclusive): extends the reservation if needed. */
  reserve(upTo: number): void {
    if (upTo <= this.reserved) return;
    const next = upTo + SEQ_BLOCK;
    const tmp = `${this.path}.tmp`;
    const fd = openSync(tmp, 'w', 0o640);
    try {
      writeSync(fd, `${next}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.path);
    this.reserved = next;
  }
}
