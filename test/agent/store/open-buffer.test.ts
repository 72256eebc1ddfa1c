import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../agent/core/logger.js';
import { Outbox, type RecordDraft } from '../../../agent/outbox/outbox.js';
import { openBuffer } from '../../../agent/store/open-buffer.js';
import { SEQ_BLOCK } from '../../../agent/store/seq-floor.js';
import { tempDir } from '../../support/tmp.js';

const draft: RecordDraft = { kind: 'reading', t: 1, at: 1, src: 's', pt: 'p', v: 1, q: 'good' };

async function stageSome(outbox: Outbox, store: Awaited<ReturnType<typeof openBuffer>>['store'], n: number): Promise<void> {
  const staged = outbox.stage(Array.from({ length: n }, () => draft));
  await store.db.batch(staged.ops, { sync: true });
  staged.commit();
}

describe('openBuffer: damage and the seq floor', () => {
  const cleanups: Array<() => void> = [];
  afterEach(() => cleanups.splice(0).forEach((c) => c()));

  it('moves a store that will not open aside, starts fresh, and never reuses a seq', async () => {
    const dir = tempDir('damage');
    cleanups.push(dir.cleanup);
    let opened = await openBuffer(dir.path, silentLogger, 1000);
    let outbox = new Outbox(opened.store, (upTo) => opened.seqFloor.reserve(upTo));
    await outbox.init(opened.seqFloor.view({ damaged: opened.damage !== undefined, everyCommitSynced: true }));
    await stageSome(outbox, opened.store, 25);
    await opened.store.close();
    expect(Number(readFileSync(join(dir.path, 'seq-floor'), 'utf8'))).toBe(26 + SEQ_BLOCK);

    // A normal restart continues at 26: the floor is only for a lost counter.
    opened = await openBuffer(dir.path, silentLogger, 2000);
    outbox = new Outbox(opened.store, (upTo) => opened.seqFloor.reserve(upTo));
    await outbox.init(opened.seqFloor.view({ damaged: opened.damage !== undefined, everyCommitSynced: true }));
    expect(opened.damage).toBeUndefined();
    expect(outbox.upcomingSeq).toBe(26);
    await opened.store.close();

    // Damage LevelDB's manifest pointer: the store will not open.
    writeFileSync(join(dir.path, 'buffer', 'CURRENT'), 'MANIFEST-999999\n');
    opened = await openBuffer(dir.path, silentLogger, Date.UTC(2026, 0, 2, 3, 4, 5));
    expect(opened.damage).toMatchObject({ movedTo: expect.stringContaining('buffer.damaged-2026-01-02T03-04-05'), reason: expect.any(String) });
    expect(readdirSync(dir.path).filter((f) => f.startsWith('buffer.damaged-'))).toHaveLength(1);
    outbox = new Outbox(opened.store, (upTo) => opened.seqFloor.reserve(upTo));
    await outbox.init(opened.seqFloor.view({ damaged: opened.damage !== undefined, everyCommitSynced: true }));
    expect(outbox.upcomingSeq).toBe(26 + SEQ_BLOCK); // past every seq the lost store could have used
    await opened.store.close();
  });

  it('refuses a store locked by another opener instead of moving it aside', async () => {
    const dir = tempDir('damage-lock');
    cleanups.push(dir.cleanup);
    const first = await openBuffer(dir.path, silentLogger, 0);
    await expect(openBuffer(dir.path, silentLogger, 0)).rejects.toMatchObject({ code: 'EDGE_STORE_LOCKED' });
    expect(readdirSync(dir.path).some((f) => f.includes('damaged'))).toBe(false);
    await first.store.close();
  });
});
