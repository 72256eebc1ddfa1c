import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { lastGoodPath, loadLastGood, saveLastGood } from '../../../agent/config/last-good.js';
import { tempDir } from '../../support/tmp.js';

describe('last good desired config', () => {
  const dirs: Array<{ cleanup: () => void }> = [];
  afterEach(() => dirs.splice(0).forEach((d) => d.cleanup()));

  it('round-trips, replaces atomically and leaves no temp file', async () => {
    const dir = tempDir('last-good');
    dirs.push(dir);
    expect(await loadLastGood(dir.path)).toEqual({});
    await saveLastGood(dir.path, { version: 3, desired: { log: { level: 'debug' } }, savedAt: 1 });
    await saveLastGood(dir.path, { version: 4, desired: { log: { level: 'warn' } }, savedAt: 2 });
    expect((await loadLastGood(dir.path)).value).toEqual({ version: 4, desired: { log: { level: 'warn' } }, savedAt: 2 });
    expect(readdirSync(dir.path)).toEqual(['twin-desired.json']);
  });

  it('a damaged file is reported and ignored, never thrown', async () => {
    const dir = tempDir('last-good-bad');
    dirs.push(dir);
    writeFileSync(lastGoodPath(dir.path), '{"version": 3, "desi');
    const r = await loadLastGood(dir.path);
    expect(r.value).toBeUndefined();
    expect(r.problem).toMatch(/not a saved desired document/);
    expect(existsSync(lastGoodPath(dir.path))).toBe(true);
  });
});
