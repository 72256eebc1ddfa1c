import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadCommitted } from '../../agent/pipeline/stage-tail.js';
import { positionKey } from '../../agent/store/checksum.js';
import { AgentStore } from '../../agent/store/store.js';
import { ROOT } from '../support/cli.js';
import { tempDir } from '../support/tmp.js';

/** Readings per run; checkpoints every EVERY entries, so most kills land between two of them. */
const TOTAL = 1500;
const EVERY = 400;
const ROUNDS = 6;
/** Records per pipeline batch: small, so most steps with results take several batches. */
const PER_BATCH = 3;

function child(dataDir: string) {
  return spawn(process.execPath, ['--import', 'tsx', 'test/fault/support/replay-child.ts', dataDir, String(TOTAL), String(EVERY), String(PER_BATCH)], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 120_000,
  });
}

/** Runs the child until `killAt` readings are through its pipeline (then SIGKILL), or to the end. */
function runChild(dataDir: string, killAt?: number): Promise<{ at: number; done?: unknown[] }> {
  const proc = child(dataDir);
  let stderr = '';
  proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  let at = -1;
  let done: unknown[] | undefined;
  let buffered = '';
  proc.stdout.on('data', (d: Buffer) => {
    buffered += d.toString();
    const lines = buffered.split('\n');
    buffered = lines.pop()!;
    for (const line of lines) {
      if (line.startsWith('done ')) done = JSON.parse(line.slice(5)) as unknown[];
      else at = Math.max(at, Number(line.slice(3)));
      if (killAt !== undefined && at >= killAt && proc.exitCode === null) proc.kill('SIGKILL');
    }
  });
  return new Promise((resolve, reject) => {
    proc.once('exit', (code, signal) => {
      if (signal === 'SIGKILL' || code === 0) resolve({ at, ...(done ? { done } : {}) });
      else reject(new Error(`replay child exited (${code ?? signal}): ${stderr}`));
    });
  });
}

/** Journal entries kept for replay: what the last checkpoint does not cover. */
/** Journal entries past the last checkpoint: the tail a restart replays (consumed ones may linger until swept). */
async function keptEntries(dataDir: string): Promise<number> {
  const store = await AgentStore.open(dataDir);
  const { tail } = await loadCommitted(store);
  let n = 0;
  for await (const _ of store.journal.keys({ gt: positionKey(tail.from) })) n++;
  await store.close();
  return n;
}

describe('analytics checkpoints: SIGKILL between two checkpoints replays the journal tail to identical results', () => {
  const cleanups: Array<() => void> = [];
  afterAll(() => cleanups.splice(0).forEach((c) => c()));

  it(`${ROUNDS} kills of a real child, each between checkpoints, give the outbox of an uninterrupted run`, { timeout: 300_000 }, async () => {
    const clean = tempDir('replay-clean');
    cleanups.push(clean.cleanup);
    const reference = await runChild(join(clean.path, 'agent'));
    expect(reference.done!.length).toBeGreaterThan(200);
    expect(new Set((reference.done as Array<{ query: string }>).map((r) => r.query))).toEqual(new Set(['avg5s', 'hop', 'slide', 'session']));

    const crashed = tempDir('replay-crash');
    cleanups.push(crashed.cleanup);
    const dataDir = join(crashed.path, 'agent');
    const kept: number[] = [];
    let progress = 0;
    for (let round = 0; round < ROUNDS; round++) {
      // Spread the kills over the run; the offset keeps them off checkpoint boundaries.
      const killAt = Math.min(TOTAL - 50, progress + 100 + Math.floor(Math.random() * 200));
      const r = await runChild(dataDir, killAt);
      expect(r.done, 'the kill came after the run ended').toBeUndefined();
      progress = r.at;
      kept.push(await keptEntries(dataDir));
    }
    // The kills did land between checkpoints: the journal held a tail to replay each time but at most one.
    expect(kept.filter((n) => n > 0).length).toBeGreaterThanOrEqual(ROUNDS - 1);
    const final = await runChild(dataDir);
    expect(final.done).toEqual(reference.done);
  });
});
