import { open, rename, readFile } from 'node:fs/promises';
import { dirname, basename, join } from 'node:path';
import { randomBytes } from 'node:crypto';

/**
 * Replaces `path` with `data` so that a crash leaves either the old or the new content, never a
 * mix: write a temp file beside it, fsync it, rename over the target, fsync the directory (the
 * rename itself is only durable once the directory entry is).
 */
export async function writeFileAtomic(path: string, data: string | Buffer, mode = 0o600): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(4).toString('hex')}.tmp`);
  const fh = await open(tmp, 'w', mode);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
  await syncDirectory(dirname(path));
}

/** fsync a directory so a create/rename inside it survives a power cut. */
export async function syncDirectory(dir: string): Promise<void> {
  const dh = await open(dir, 'r');
  try {
    await dh.sync();
  } finally {
    await dh.close();
  }
}

/** Reads and parses a JSON file; undefined when it does not exist. */
export async function readJsonFile(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  return JSON.parse(text) as unknown;
}

/**
 * Serialises async writers of one file, and coalesces: while a write is in flight, later calls
 * wait for one further write that carries the newest content. Keeps twin/registry saves cheap
 * under bursts without ever writing stale content last.
 */
export class CoalescingWriter {
  private tail: Promise<void> = Promise.resolve();
  /** A write that has been scheduled but has not yet taken its snapshot. */
  private pending: Promise<void> | undefined;

  constructor(
    private readonly path: string,
    private readonly snapshot: () => string,
  ) {}

  /** Resolves when every write asked for so far has finished (successfully or not). */
  async settled(): Promise<void> {
    await this.tail.catch(() => undefined);
  }

  save(): Promise<void> {
    if (this.pending) return this.pending;
    const next = this.tail
      .catch(() => undefined)
      .then(() => {
        // From here on a newer change needs a newer write: the snapshot below is taken now.
        this.pending = undefined;
        return writeFileAtomic(this.path, this.snapshot());
      });
    this.pending = next;
    this.tail = next;
    return next;
  }
}
