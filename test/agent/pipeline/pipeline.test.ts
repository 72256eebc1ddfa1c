import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../agent/core/logger.js';
import { Journal } from '../../../agent/journal/journal.js';
import { Outbox } from '../../../agent/outbox/outbox.js';
import { Pipeline } from '../../../agent/pipeline/pipeline.js';
import { readingsStage } from '../../../agent/pipeline/stage.js';
import { systemClock } from '../../../agent/core/clock.js';
import { AgentStore } from '../../../agent/store/store.js';
import { stamped } from '../../support/readings.js';
import { tempDir } from '../../support/tmp.js';

async function open(path: string) {
  const store = await AgentStore.open(path);
  const journal = new Journal(store);
  const outbox = new Outbox(store);
  const pipeline = new Pipeline(store, journal, outbox, readingsStage, systemClock, silentLogger, 7);
  await pipeline.init();
  await journal.init(pipeline.position);
  await outbox.init();
  return { store, journal, outbox, pipeline };
}

describe('Pipeline journal → outbox (real LevelDB)', () => {
  const dirs: Array<{ cleanup: () => void }> = [];
  afterEach(() => dirs.splice(0).forEach((d) => d.cleanup()));

  it('moves every journal entry to the outbox exactly once, across a reopen', async () => {
    const dir = tempDir('pipeline');
    dirs.push(dir);
    let p = await open(dir.path);
    await p.journal.append(Array.from({ length: 10 }, (_, i) => stamped(i)));
    expect(await p.pipeline.step()).toBe(7); // batch size 7
    await p.store.close();

    p = await open(dir.path);
    await p.journal.append(Array.from({ length: 3 }, (_, i) => stamped(10 + i)));
    while ((await p.pipeline.step()) > 0);
    await p.store.close();

    // The journal is empty now; new entries must still land past the cursor.
    p = await open(dir.path);
    await p.journal.append(Array.from({ length: 2 }, (_, i) => stamped(13 + i)));
    while ((await p.pipeline.step()) > 0);
    const records = (await p.outbox.read(0, 100)).map((r) => JSON.parse(r.json) as { seq: number; v: number; t: number; at: number });
    expect(records.map((r) => r.seq)).toEqual(Array.from({ length: 15 }, (_, i) => i + 1));
    expect(records.map((r) => r.v)).toEqual(Array.from({ length: 15 }, (_, i) => i * 1.5));
    expect(records[0]).toMatchObject({ t: stamped(0).appTime, at: stamped(0).arrivalTime });
    expect(await p.journal.read(0, 100)).toEqual([]); // consumed entries are gone
    await p.store.close();
  });

  it('never stages an entry twice when steps are requested concurrently', async () => {
    const dir = tempDir('pipeline-concurrent');
    dirs.push(dir);
    const p = await open(dir.path);
    await p.journal.append(Array.from({ length: 20 }, (_, i) => stamped(i)));
    await Promise.all([p.pipeline.step(), p.pipeline.step(), p.pipeline.step(), p.pipeline.step()]);
    const seqs = (await p.outbox.read(0, 100)).map((r) => r.seq);
    expect(seqs).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(p.outbox.depth).toBe(20);
    await p.store.close();
  });

  it('runs on its own when the journal grows', async () => {
    const dir = tempDir('pipeline-loop');
    dirs.push(dir);
    const p = await open(dir.path);
    p.pipeline.start();
    await p.journal.append(Array.from({ length: 20 }, (_, i) => stamped(i)));
    while (p.outbox.depth < 20) await p.outbox.added.wait();
    await p.pipeline.stop();
    expect(p.outbox.depth).toBe(20);
    await p.store.close();
  });
});

describe('damaged records', () => {
  it('a journal or outbox record that fails its checksum is quarantined, not a stall', async () => {
    const dir = tempDir('pipeline-damage');
    try {
      const p = await open(dir.path);
      await p.journal.append(Array.from({ length: 5 }, (_, i) => stamped(i)));
      // Flip a byte of journal entry 3 behind LevelDB's back (it would pass LevelDB's own checks).
      const { positionKey } = await import('../../../agent/store/checksum.js');
      const raw = (await p.store.journal.get(positionKey(3)))!;
      raw[raw.length - 2] ^= 0xff;
      await p.store.journal.put(positionKey(3), raw);
      while ((await p.pipeline.step()) > 0);
      expect((await p.outbox.read(0, 100)).length).toBe(4);
      expect(p.store.damagedRecords).toBe(1);
      expect(await p.store.damaged.get(`journal!${positionKey(3)}`)).toEqual(raw);

      // Now damage an outbox record: it is quarantined and its seq answered as evicted.
      const rec = (await p.store.outbox.get(positionKey(2)))!;
      rec[rec.length - 2] ^= 0xff;
      await p.store.outbox.put(positionKey(2), rec);
      expect((await p.outbox.read(0, 100)).map((r) => r.seq)).toEqual([1, 3, 4]);
      expect(p.outbox.evictedRanges.list()).toEqual([{ fromSeq: 2, toSeq: 2 }]);
      expect(p.store.damagedRecords).toBe(2);
      await p.store.close();
    } finally {
      dir.cleanup();
    }
  });
});
