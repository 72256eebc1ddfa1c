import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { ReadingRecord } from '../../agent/core/wire.js';
import { childLimit, LONG_MS } from '../support/child.js';
import { ROOT } from '../support/cli.js';
import { recordsOf, startHub } from '../support/hub.js';
import { tempDir } from '../support/tmp.js';

/** Rounds of ingest → SIGKILL at a random moment → restart. CI runs 100; `npm run soak` runs more. */
const ROUNDS = Number(process.env.EDGE_CRASH_ROUNDS ?? 100);
const PER_ROUND = 10_000_000;
const MAX_IN_FLIGHT = 4;

function child(args: string[]) {
  return spawn(process.execPath, ['--import', 'tsx', 'test/fault/support/crash-child.ts', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], ...childLimit(LONG_MS) });
}

describe(`durability: ${ROUNDS} SIGKILLs during ingest at ≥ 1,000 readings/s`, () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterAll(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it('every accepted reading reaches the hub, seqs have no gaps, duplicates stay within the in-flight window', { timeout: ROUNDS * 15_000 + 120_000 }, async () => {
    const { hub, close } = await startHub();
    cleanups.push(close);
    const dev = await hub.registerDevice('crash-gw');
    const data = tempDir('crash');
    cleanups.push(data.cleanup);
    const caFile = join(data.path, 'ca.pem');
    writeFileSync(caFile, hub.caPem);
    const acked: number[] = [];
    let fastest = 0;

    for (let round = 0; round < ROUNDS; round++) {
      const proc = child(['ingest', join(data.path, 'agent'), dev.connectionString, caFile, String(round)]);
      let stderr = '';
      proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
      // Kill after a random number of accepted readings: somewhere in group commit, pipeline
      // step, send or acknowledgement.
      const killAt = 200 + Math.floor(Math.random() * 1800);
      let highest = -1;
      let firstAt = 0;
      let buffered = '';
      await new Promise<void>((resolve, reject) => {
        proc.stdout.on('data', (d: Buffer) => {
          buffered += d.toString();
          const lines = buffered.split('\n');
          buffered = lines.pop()!;
          for (const line of lines) highest = Math.max(highest, Number(line));
          if (highest >= 0 && firstAt === 0) firstAt = performance.now();
          if (highest + 1 >= killAt) resolve();
        });
        void exited.then((code) => reject(new Error(`child exited (${code}) before the kill: ${stderr}`)));
      });
      const rate = ((highest + 1) * 1000) / Math.max(1, performance.now() - firstAt);
      fastest = Math.max(fastest, rate);
      proc.kill('SIGKILL');
      await exited;
      acked.push(highest);
    }

    const drain = child(['drain', join(data.path, 'agent'), dev.connectionString, caFile, '0']);
    let out = '';
    drain.stdout.on('data', (d: Buffer) => (out += d.toString()));
    let err = '';
    drain.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((resolve) => drain.on('exit', resolve));
    expect(code, err).toBe(0);
    expect(out).toMatch(/^drained /m);

    const records = (await recordsOf(hub, 'crash-gw')) as ReadingRecord[];
    const values = new Set(records.map((r) => r.v as number));
    const missing: string[] = [];
    acked.forEach((highest, round) => {
      for (let n = 0; n <= highest; n++) if (!values.has(round * PER_ROUND + n)) missing.push(`round ${round} reading ${n}`);
    });
    expect(missing.slice(0, 10), `${missing.length} accepted readings missing`).toEqual([]);

    const seqs = records.map((r) => r.seq);
    const distinct = [...new Set(seqs)].sort((a, b) => a - b);
    expect(distinct[0]).toBe(1);
    expect(distinct.at(-1)).toBe(distinct.length); // 1..N, no gaps
    const duplicates = seqs.length - distinct.length;
    // A kill can orphan at most the messages in flight: each redelivered once after restart.
    const perMessage = Math.ceil((16 * 1024) / 60);
    expect(duplicates).toBeLessThanOrEqual(ROUNDS * MAX_IN_FLIGHT * perMessage);
    // Every reading whose value we know was accepted made it; so did those accepted unseen.
    expect(values.size).toBe(distinct.length);
    expect(fastest).toBeGreaterThanOrEqual(1000);
    console.log(`crash test: ${ROUNDS} rounds, ${distinct.length} records, ${duplicates} duplicates, fastest round ${Math.round(fastest)} readings/s`);
  });
});
