import { execFileSync } from 'node:child_process';
import { childLimit } from './child.js';
import { tempDir } from './tmp.js';

/**
 * A small size-limited filesystem (tmpfs) for disk-full tests. Mounting needs root (CI runs as
 * root); anywhere else the test fails and says so rather than skipping.
 */
export function mountTmpfs(sizeBytes: number): { path: string; cleanup: () => void } {
  const dir = tempDir('tmpfs');
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeBytes}`, 'tmpfs', dir.path], { stdio: 'pipe', ...childLimit() });
  } catch (err) {
    dir.cleanup();
    throw new Error(`disk-full tests need a small tmpfs: run them as root (mount -t tmpfs -o size=${sizeBytes} tmpfs DIR failed: ${String(err)})`);
  }
  return {
    path: dir.path,
    cleanup: () => {
      execFileSync('umount', ['-l', dir.path], childLimit());
      dir.cleanup();
    },
  };
}
