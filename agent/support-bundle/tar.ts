import { gzipSync } from 'node:zlib';

export interface TarEntry {
  /** Path inside the archive, `/`-separated, at most 100 bytes (ustar's name field without prefix). */
  name: string;
  data: Buffer;
  mtimeMs: number;
}

const BLOCK = 512;

/**
 * A POSIX ustar archive of regular files (mode 0644), gzipped: what `tar -xzf` opens on any
 * gateway or laptop. Only what a bundle needs: short names, no directories or links.
 */
export function tarGz(entries: readonly TarEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    parts.push(header(e));
    parts.push(e.data);
    const pad = (BLOCK - (e.data.length % BLOCK)) % BLOCK;
    if (pad) parts.push(Buffer.alloc(pad));
  }
  // Two zero blocks end the archive.
  parts.push(Buffer.alloc(2 * BLOCK));
  return gzipSync(Buffer.concat(parts));
}

function header(e: TarEntry): Buffer {
  const name = Buffer.from(e.name, 'utf8');
  if (name.length === 0 || name.length > 100) throw new TypeError(`a tar entry name has 1..100 bytes: ${e.name}`);
  const h = Buffer.alloc(BLOCK);
  name.copy(h, 0);
  octal(h, 100, 8, 0o644);
  octal(h, 108, 8, 0);
  octal(h, 116, 8, 0);
  octal(h, 124, 12, e.data.length);
  octal(h, 136, 12, Math.floor(e.mtimeMs / 1000));
  h.fill(0x20, 148, 156); // the checksum counts its own field as spaces
  h.write('0', 156, 'ascii'); // regular file
  h.write('ustar\0', 257, 'ascii');
  h.write('00', 263, 'ascii');
  h.write('root', 265, 'ascii');
  h.write('root', 297, 'ascii');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'ascii');
  return h;
}

/** A zero-padded octal number in a `width`-byte field, NUL-terminated. */
function octal(h: Buffer, offset: number, width: number, value: number): void {
  const text = value.toString(8).padStart(width - 1, '0');
  if (text.length > width - 1) throw new RangeError(`${value} does not fit a ${width}-byte tar field`);
  h.write(text + '\0', offset, 'ascii');
}
