import { describe, expect, it } from 'vitest';
import { GroupCommit } from '../../../agent/store/group-commit.js';

describe('GroupCommit', () => {
  it('merges writes submitted while one is in progress into one next write', async () => {
    const writes: number[][] = [];
    let release: () => void = () => undefined;
    const gc = new GroupCommit<number>(async (items) => {
      writes.push(items);
      if (writes.length === 1) await new Promise<void>((r) => (release = r));
    });
    const first = gc.submit([1]);
    const rest = [gc.submit([2]), gc.submit([3, 4]), gc.submit([5])];
    release();
    await Promise.all([first, ...rest]);
    expect(writes).toEqual([[1], [2, 3, 4, 5]]);
  });

  it('rejects every caller of a failed write and keeps serving later ones', async () => {
    let fail = true;
    const written: number[] = [];
    const gc = new GroupCommit<number>(async (items) => {
      if (fail) {
        fail = false;
        throw new Error('disk full');
      }
      written.push(...items);
    });
    await expect(gc.submit([1])).rejects.toThrow('disk full');
    await gc.submit([2]);
    expect(written).toEqual([2]);
  });
});
