import { readdirSync } from 'node:fs';
import { Level } from 'level';
import { afterEach, describe, expect, it } from 'vitest';
import { AgentStore } from '../../../agent/store/store.js';
import { tempDir } from '../../support/tmp.js';

/** The raw key prefix LevelDB sees for a sublevel (`!name!`). */
function prefixOf(store: AgentStore, area: 'journal' | 'outbox' | 'sent' | 'meta'): string {
  return store[area].prefix;
}

describe('AgentStore layout on disk', () => {
  const cleanups: Array<() => void> = [];
  afterEach(() => cleanups.splice(0).forEach((c) => c()));

  it('sorts the journal and metadata after the outbox and before sent (compactions stay off the backlog)', async () => {
    const dir = tempDir('layout');
    cleanups.push(dir.cleanup);
    const store = await AgentStore.open(dir.path);
    try {
      const [outbox, journal, meta, sent] = (['outbox', 'journal', 'meta', 'sent'] as const).map((a) => prefixOf(store, a));
      for (const written of [journal!, meta!]) {
        expect(outbox! < written, `${outbox} before ${written}`).toBe(true);
        expect(written < sent!, `${written} before ${sent}`).toBe(true);
      }
    } finally {
      await store.close();
    }
  });

  it('takes its memtable size from the options: 6 MB of writes fill table files under a 1 MiB buffer, none under 32 MiB', async () => {
    const tables = async (writeBufferBytes: number) => {
      const dir = tempDir('layout-memtable');
      cleanups.push(dir.cleanup);
      const store = await AgentStore.open(dir.path, Date.now, { writeBufferBytes });
      const value = Buffer.alloc(10_000, 7);
      for (let b = 0; b < 20; b++) {
        await store.write(Array.from({ length: 30 }, (_, i) => ({ type: 'put' as const, sublevel: store.journal, key: String(b * 30 + i).padStart(16, '0'), value })));
      }
      // Closing waits for LevelDB's flushes of full memtables; the open one stays in the log.
      await store.close();
      return readdirSync(dir.path).filter((f) => f.endsWith('.ldb')).length;
    };
    expect(await tables(1024 * 1024)).toBeGreaterThan(0);
    expect(await tables(32 * 1024 * 1024)).toBe(0);
  });

  it('moves the journal and metadata of a store written under the former names, and keeps every entry', async () => {
    const dir = tempDir('layout-migrate');
    cleanups.push(dir.cleanup);
    // A store as the agent wrote it before the rename: 2,500 journal entries (three move
    // batches), the metadata, and an outbox that stays where it is.
    const old = new Level<string, Buffer>(dir.path, { keyEncoding: 'utf8', valueEncoding: 'buffer' });
    const sub = (name: string) => old.sublevel<string, Buffer>(name, { valueEncoding: 'buffer' });
    const journalKeys = Array.from({ length: 2500 }, (_, i) => String(i + 1).padStart(16, '0'));
    await old.batch([
      ...journalKeys.map((key) => ({ type: 'put' as const, sublevel: sub('journal'), key, value: Buffer.from(`reading ${key}`) })),
      { type: 'put', sublevel: sub('meta'), key: 'journalCursor', value: Buffer.from('cursor') },
      { type: 'put', sublevel: sub('meta'), key: 'nextSeq', value: Buffer.from('seq') },
      { type: 'put', sublevel: sub('outbox'), key: 'k', value: Buffer.from('record') },
    ]);
    await old.close();

    const store = await AgentStore.open(dir.path);
    try {
      const journal = await store.journal.iterator().all();
      expect(journal.map(([k]) => k)).toEqual(journalKeys);
      expect(journal[2499]![1].toString()).toBe(`reading ${journalKeys[2499]}`);
      expect(await store.meta.get('journalCursor')).toEqual(Buffer.from('cursor'));
      expect(await store.meta.get('nextSeq')).toEqual(Buffer.from('seq'));
      expect(await store.outbox.get('k')).toEqual(Buffer.from('record'));
      const formerJournal = store.db.sublevel<string, Buffer>('journal', { valueEncoding: 'buffer' });
      const formerMeta = store.db.sublevel<string, Buffer>('meta', { valueEncoding: 'buffer' });
      expect(await formerJournal.keys().all()).toEqual([]);
      expect(await formerMeta.keys().all()).toEqual([]);
    } finally {
      await store.close();
    }
    // Opening again finds nothing left to move and changes nothing.
    const again = await AgentStore.open(dir.path);
    try {
      expect(await again.journal.keys().all()).toHaveLength(2500);
    } finally {
      await again.close();
    }
  });
});
