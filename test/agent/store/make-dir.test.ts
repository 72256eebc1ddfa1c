import { statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isEdgeError } from '../../../agent/core/errors.js';
import { makeDir } from '../../../agent/store/make-dir.js';
import { tempDir } from '../../support/tmp.js';

function thrown(f: () => void): unknown {
  try {
    f();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw');
}

describe('makeDir: a data directory made one level at a time', () => {
  const cleanups: Array<() => void> = [];
  afterEach(() => {
    for (const c of cleanups.splice(0)) c();
  });
  const scratch = () => {
    const d = tempDir('make-dir');
    cleanups.push(d.cleanup);
    return d.path;
  };

  it('creates every missing level, and an existing directory is fine', () => {
    const target = join(scratch(), 'a', 'b', 'c');
    makeDir(target);
    expect(statSync(target).isDirectory()).toBe(true);
    makeDir(target);
    makeDir(`${target}/../c/`);
    expect(statSync(target).isDirectory()).toBe(true);
  });

  it('gives the levels it creates the mode asked for (less the umask), and leaves existing ones alone', () => {
    const base = scratch();
    makeDir(join(base, 'a', 'b'), { mode: 0o700 });
    expect(statSync(join(base, 'a')).mode & 0o077).toBe(0);
    expect(statSync(join(base, 'a', 'b')).mode & 0o077).toBe(0);
    expect(statSync(base).mode & 0o777).toBe(0o700);
  });

  it('refuses /proc and /sys at once with EDGE_DATA_DIR_UNUSABLE, naming the filesystem', () => {
    // Under /proc, mkdir answers ENOENT below an existing parent: recursive mkdir never ends there.
    const t0 = performance.now();
    const proc = thrown(() => makeDir('/proc/edge-agent-test/data'));
    expect(isEdgeError(proc, 'EDGE_DATA_DIR_UNUSABLE')).toBe(true);
    expect((proc as Error).message).toMatch(/^\/proc is on a proc pseudo filesystem/);
    const sys = thrown(() => makeDir('/sys/edge-agent-test'));
    expect((sys as Error).message).toMatch(/sysfs pseudo filesystem/);
    expect(performance.now() - t0).toBeLessThan(1000);
  });

  it('a file in the way and a path too deep are named', () => {
    const dir = scratch();
    writeFileSync(join(dir, 'file'), 'x');
    expect((thrown(() => makeDir(join(dir, 'file'))) as Error).message).toBe(`${join(dir, 'file')} exists and is not a directory`);
    const deep = join(dir, ...Array.from({ length: 70 }, () => 'd'));
    const err = thrown(() => makeDir(deep));
    expect(isEdgeError(err, 'EDGE_DATA_DIR_UNUSABLE')).toBe(true);
    expect((err as Error).message).toMatch(/levels deep; at most 64/);
  });

  it('a system error on the way is passed on as it is, after one attempt', () => {
    const dir = scratch();
    writeFileSync(join(dir, 'file'), 'x');
    expect((thrown(() => makeDir(join(dir, 'file', 'data', 'more'))) as NodeJS.ErrnoException).code).toBe('ENOTDIR');
  });
});
