import { openSync, readdirSync, statSync, truncateSync, writeFileSync, writeSync, closeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { fieldSite, hubLedger, seqsOf, untilStatus } from './support/field-agent.js';

/** Overwrites `bytes` in the middle of `path` with random bytes. */
function garble(path: string, bytes: number): void {
  const size = statSync(path).size;
  const fd = openSync(path, 'r+');
  try {
    writeSync(fd, randomBytes(bytes), 0, bytes, Math.max(0, Math.floor(size / 2) - bytes / 2));
  } finally {
    closeSync(fd);
  }
}

function newest(dir: string, ext: string, by: 'size' | 'name'): string {
  const files = readdirSync(dir).filter((f) => f.endsWith(ext));
  files.sort((a, b) => (by === 'size' ? statSync(join(dir, b)).size - statSync(join(dir, a)).size : b.localeCompare(a)));
  if (!files[0]) throw new Error(`no ${ext} file in ${dir}: ${readdirSync(dir).join(' ')}`);
  return join(dir, files[0]);
}

/**
 * Damage from outside, as the field does it to SD cards: a stopped agent's store files are
 * garbled, torn or pointed nowhere, then the real `edge-agent run` starts on them. It must keep
 * collecting without a restart, move a damaged store aside (never delete it), never issue a seq
 * twice, and report exactly what was destroyed as lost: every seq it ever issued is in the hub
 * or in its reported ranges, and nothing it reports lost is in the hub.
 */
describe('a damaged store never wedges the gateway', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function scenario(deviceId: string, damage: (bufferDir: string) => void): Promise<{ lost: number[]; firstStop: number; alarms: string[]; moved: string[] }> {
    const site = await fieldSite(deviceId, cleanups, { points: 50, intervalMs: 20 });
    const { hub, dataDir } = site;
    // A backlog on disk: the hub is unreachable while the agent collects.
    hub.faults.refuseConnections({ mode: 'server-unavailable' });
    const first = await site.run();
    await untilStatus(first, (s) => s.buffer.unsentRecords >= 20_000, 90_000, '20,000 unsent records');
    const stop1 = await first.stop();
    expect(stop1.code, stop1.stderr).toBe(0);

    damage(join(dataDir, 'buffer'));

    hub.faults.acceptConnections();
    const second = await site.run();
    // Collection goes on and the backlog drains, in the same process: no restart was needed.
    const drained = await untilStatus(second, (s) => s.alarms.some((a) => a.code === 'EDGE_STORE_DAMAGED') && s.buffer.unsentRecords < 1000 && s.readings > 2000, 120_000, 'damage reported and the backlog drained');
    expect(second.child.exitCode).toBeNull();
    const stop2 = await second.stop();
    expect(stop2.code, stop2.stderr).toBe(0);
    expect(stop2.stopped.outbox).toBe(0); // the stop's flush sent the rest

    const { bySeq, copies } = await hubLedger(hub, deviceId);
    // No seq was issued twice: a seq the hub holds more than once carries the same record each time.
    const reused = [...bySeq].filter(([, texts]) => texts.size > 1).map(([seq]) => seq);
    expect(reused.slice(0, 5)).toEqual([]);
    const lost = seqsOf(drained.buffer.evictedRanges);
    const lostSet = new Set(lost);
    // Every seq issued is in the hub or reported lost; nothing reported lost reached the hub.
    const unaccounted: number[] = [];
    for (let seq = 1; seq < stop2.stopped.nextSeq; seq++) if (!bySeq.has(seq) && !lostSet.has(seq)) unaccounted.push(seq);
    expect(unaccounted.slice(0, 10), `${unaccounted.length} seqs neither delivered nor reported lost`).toEqual([]);
    expect(lost.filter((seq) => bySeq.has(seq)).slice(0, 10)).toEqual([]);
    // The second run never went back below what the first had issued.
    expect(stop2.stopped.nextSeq).toBeGreaterThan(stop1.stopped.nextSeq);
    const moved = readdirSync(dataDir).filter((f) => f.startsWith('buffer.damaged-'));
    console.log(`damage (${deviceId}): ${stop2.stopped.nextSeq - 1} seqs issued, ${bySeq.size} in the hub, ${lost.length} reported lost, ${copies} duplicate records, moved aside: ${moved.length}`);
    return { lost, firstStop: stop1.stopped.nextSeq, alarms: drained.alarms.map((a) => a.message), moved };
  }

  it('a garbled table (8 KiB overwritten in the largest .ldb): moved aside, salvaged, what the block held reported lost', { timeout: 300_000 }, async () => {
    const r = await scenario('dmg-table', (buffer) => garble(newest(buffer, '.ldb', 'size'), 8192));
    expect(r.moved).toHaveLength(1);
    // What repair could not read of that one table, never the whole backlog. It may be nothing:
    // the block may have held only journal entries the pipeline had already deleted.
    expect(r.lost.length).toBeLessThan((r.firstStop - 1) / 2);
    expect(r.lost.every((seq) => seq < r.firstStop)).toBe(true);
    expect(r.alarms.join(' ')).toMatch(/moved to .*buffer\.damaged-/);
  });

  it('CURRENT pointing at a missing manifest: moved aside, everything salvaged, nothing lost', { timeout: 300_000 }, async () => {
    const r = await scenario('dmg-current', (buffer) => writeFileSync(join(buffer, 'CURRENT'), 'MANIFEST-999999\n'));
    expect(r.moved).toHaveLength(1);
    expect(r.lost).toEqual([]);
  });

  it('a torn log (the newest .log cut in half): seqs never go back, the torn records are reported lost', { timeout: 300_000 }, async () => {
    const r = await scenario('dmg-torn', (buffer) => {
      const log = newest(buffer, '.log', 'name');
      truncateSync(log, Math.floor(statSync(log).size / 2));
    });
    expect(r.moved).toHaveLength(0); // LevelDB opens a torn log; the continuity check finds the loss
    expect(r.lost.length).toBeGreaterThan(0);
    expect(Math.max(...r.lost)).toBe(r.firstStop - 1); // the newest records went, up to the last seq issued
  });

  it('4 KiB of random bytes in the middle of the log: what LevelDB skipped is reported lost', { timeout: 300_000 }, async () => {
    const r = await scenario('dmg-garbled-log', (buffer) => garble(newest(buffer, '.log', 'name'), 4096));
    // Seen (the alarm: LevelDB's own "dropping" line), and whatever it cost is reported. It may
    // cost nothing: the span may have held only journal appends whose later step survived.
    expect(r.alarms.join(' ')).toMatch(/LevelDB skipped damaged records|records lost/);
    expect(r.lost.every((seq) => seq < r.firstStop)).toBe(true);
  });

  it('damage found at run time (a table garbled under the running agent): replaced in the same process, collection goes on', { timeout: 300_000 }, async () => {
    const deviceId = 'dmg-live';
    const site = await fieldSite(deviceId, cleanups, { points: 50, intervalMs: 20 });
    const { hub, dataDir } = site;
    hub.faults.refuseConnections({ mode: 'server-unavailable' });
    const run = await site.run();
    await untilStatus(run, (s) => s.buffer.unsentRecords >= 20_000, 90_000, '20,000 unsent records');
    // Every table of the backlog garbled while it is open: the forwarder's reads must meet it.
    const buffer = join(dataDir, 'buffer');
    for (const f of readdirSync(buffer).filter((n) => n.endsWith('.ldb'))) garble(join(buffer, f), 8192);
    hub.faults.acceptConnections();
    const healed = await untilStatus(run, (s) => s.alarms.some((a) => a.code === 'EDGE_STORE_DAMAGED' && /moved to/.test(a.message)) && s.buffer.unsentRecords < 1000, 120_000, 'damage found, store replaced, backlog sent');
    expect(run.child.exitCode).toBeNull();
    const before = healed.readings;
    await untilStatus(run, (s) => s.readings >= before + 1000, 60_000, 'collection going on');
    const end = await run.stop();
    expect(end.code, end.stderr).toBe(0);
    expect(end.stopped.outbox).toBe(0);
    const { bySeq, copies } = await hubLedger(hub, deviceId);
    expect([...bySeq].filter(([, texts]) => texts.size > 1)).toHaveLength(0);
    const lostSet = new Set(seqsOf(healed.buffer.evictedRanges));
    const unaccounted: number[] = [];
    for (let seq = 1; seq < end.stopped.nextSeq; seq++) if (!bySeq.has(seq) && !lostSet.has(seq)) unaccounted.push(seq);
    expect(unaccounted.slice(0, 10), `${unaccounted.length} seqs neither delivered nor reported lost`).toEqual([]);
    expect(readdirSync(dataDir).filter((f) => f.startsWith('buffer.damaged-'))).toHaveLength(1);
    console.log(`damage at run time (${deviceId}): ${end.stopped.nextSeq - 1} seqs issued, ${bySeq.size} in the hub, ${lostSet.size} reported lost, ${copies} duplicate records`);
  });
});
