import { readFileSync } from 'node:fs';

/** What this process has written: to `write()` calls (`wchar`) and to the block device (`write_bytes`). */
export interface ProcessWrites {
  wchar: number;
  writeBytes: number;
}

/**
 * The kernel's I/O counters for this process (/proc/self/io). `write_bytes` is what reached the
 * storage device — the flash wear — and includes LevelDB's compactions rewriting what the log
 * already held. Undefined where the kernel does not offer them.
 */
export function processWrites(): ProcessWrites | undefined {
  let text: string;
  try {
    text = readFileSync('/proc/self/io', 'utf8');
  } catch {
    return undefined;
  }
  const field = (name: string) => Number(new RegExp(`^${name}: (\\d+)`, 'm').exec(text)?.[1] ?? NaN);
  const wchar = field('wchar');
  const writeBytes = field('write_bytes');
  return Number.isFinite(wchar) && Number.isFinite(writeBytes) ? { wchar, writeBytes } : undefined;
}
