import { mkdirSync, statfsSync, statSync, type Stats } from 'node:fs';
import { resolve, sep } from 'node:path';
import { EdgeError, systemErrorCode } from '../core/errors.js';

/** Deeper than any real data directory; a longer path is a configuration mistake. */
const MAX_DEPTH = 64;

/**
 * Kernel pseudo filesystems (statfs f_type, from linux/magic.h): they hold kernel state, not
 * files. Node 20's recursive mkdir retries forever where mkdir answers ENOENT under an existing
 * parent, which is what /proc does, so such places are refused before anything is created.
 */
const PSEUDO_FILESYSTEMS: ReadonlyMap<number, string> = new Map([
  [0x9fa0, 'proc'],
  [0x62656572, 'sysfs'],
  [0x27e0eb, 'cgroup'],
  [0x63677270, 'cgroup2'],
  [0x64626720, 'debugfs'],
  [0x74726163, 'tracefs'],
  [0x73636673, 'securityfs'],
  [0x62656570, 'configfs'],
  [0xcafe4a11, 'bpf'],
  [0x6165676c, 'pstore'],
  [0xde5e81e4, 'efivarfs'],
  [0xf97cff8c, 'selinuxfs'],
  [0x1cd1, 'devpts'],
  [0x42494e4d, 'binfmt_misc'],
  [0x19800202, 'mqueue'],
]);

/**
 * Creates `path` and its missing parents one level at a time, at most one mkdir per level, so
 * it ends in bounded time whatever the filesystem answers. Refuses a path on a kernel pseudo
 * filesystem or deeper than MAX_DEPTH with EDGE_DATA_DIR_UNUSABLE; other failures are the
 * system's own errors (EACCES, ENOTDIR, EROFS, …) for the caller to name. `mode` applies to
 * the levels it creates (before the umask), as with mkdir -p -m.
 */
export function makeDir(path: string, options: { mode?: number } = {}): void {
  const target = resolve(path);
  const parts = target.split(sep).filter((p) => p.length > 0);
  if (parts.length > MAX_DEPTH) {
    throw new EdgeError('EDGE_DATA_DIR_UNUSABLE', `${target} is ${parts.length} levels deep; at most ${MAX_DEPTH} are allowed`);
  }
  const upTo = (n: number) => sep + parts.slice(0, n).join(sep);
  let existing = parts.length;
  for (; existing > 0; existing--) {
    const st = statIfPresent(upTo(existing));
    if (st === undefined) continue;
    if (!st.isDirectory()) throw new Error(`${upTo(existing)} exists and is not a directory`);
    break;
  }
  const fsName = PSEUDO_FILESYSTEMS.get(statfsSync(upTo(existing)).type);
  if (fsName !== undefined) {
    throw new EdgeError('EDGE_DATA_DIR_UNUSABLE', `${upTo(existing)} is on a ${fsName} pseudo filesystem, which holds kernel state, not data`);
  }
  for (let level = existing + 1; level <= parts.length; level++) {
    const dir = upTo(level);
    try {
      mkdirSync(dir, options.mode);
    } catch (err) {
      // Another process may have made it in between; anything else is final.
      if (systemErrorCode(err) !== 'EEXIST' || !statSync(dir).isDirectory()) throw err;
    }
  }
}

function statIfPresent(path: string): Stats | undefined {
  try {
    return statSync(path);
  } catch (err) {
    if (systemErrorCode(err) === 'ENOENT') return undefined;
    throw err;
  }
}
