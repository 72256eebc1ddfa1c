import { afterEach, describe, expect, it } from 'vitest';
import { Journal } from '../../../agent/journal/journal.js';
import { AgentStore } from '../../../agent/store/store.js';
import { stamped } from '../../support/readings.js';
import { tempDir } from '../../support/tmp.js';

describe('Journal (real LevelDB)', () => {
  const dirs: Array<{ cleanup: () => void }> = [];
  afterEach(() => dirs.splice(0).forEach((d) => d.cleanup()));

  it('appends concurrently, reads back in order, and keeps positions across a reopen', async () => {
    const dir = tempDir('journal');
    dirs.push(dir);
    let store = await AgentStore.open(dir.path);
    let journal = new Journal(store);
    await journal.init(0);
    await Promise.all(Array.from({ length: 50 }, (_, i) => journal.append([stamped(i * 2), stamped(i * 2 + 1)])));
    const all = await journal.read(0, 1000);
    expect(all.map((e) => e.position)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    expect(new Set(all.map((e) => e.reading.receivedAt)).size).toBe(100);
    await store.close();

    store = await AgentStore.open(dir.path);
    journal = new Journal(store);
    await journal.init(0);
    expect(journal.lastPosition).toBe(100);
    await journal.append([stamped(1000)]);
    expect((await journal.read(100, 10)).map((e) => e.position)).toEqual([101]);
    await store.close();
  });

  it('refuses a second process-level open of the same buffer with a clear code', async () => {
    const dir = tempDir('journal-lock');
    dirs.push(dir);
    const store = await AgentStore.open(dir.path);
    await expect(AgentStore.open(dir.path)).rejects.toMatchObject({ code: 'EDGE_STORE_LOCKED' });
    await store.close();
  });

  it('names an unusable data directory', async () => {
    const dir = tempDir('journal-file');
    dirs.push(dir);
    const { writeFileSync } = await import('node:fs');
    const file = `${dir.path}/not-a-dir`;
    writeFileSync(file, 'x');
    await expect(AgentStore.open(file)).rejects.toMatchObject({ code: 'EDGE_DATA_DIR_UNUSABLE', message: expect.stringContaining(file) });
  });
});

describe('Journal sync policy', () => {
  it('interval mode acknowledges before the fsync, syncs on stop, and reads back everything', async () => {
    const { ManualClock } = await import('../../../agent/core/clock.js');
    const dir = tempDir('journal-interval');
    try {
      const clock = new ManualClock(0);
      const store = await AgentStore.open(dir.path);
      const journal = new Journal(store, { sync: 'interval', intervalMs: 100, clock });
      await journal.init(0);
      journal.start();
      await journal.append([stamped(1), stamped(2)]);
      clock.advance(100);
      await journal.append([stamped(3)]);
      await journal.stop();
      expect((await journal.read(0, 10)).map((e) => e.position)).toEqual([1, 2, 3]);
      expect(await store.meta.get('journalSynced')).toBeDefined();
      await store.close();
    } finally {
      dir.cleanup();
    }
  });
});
