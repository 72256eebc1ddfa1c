import { execFileSync, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { IotHubEmulator } from '../../cloud/iothub/index.js';
import { tempDir } from '../../test/support/tmp.js';
import type { BenchRow, BenchSuite } from './harness.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const RECORDS = Number(process.env.EDGE_BENCH_BACKLOG ?? 1_000_000);
/** V8 sizes its heap for throughput, not for a gateway; the agent's unit caps it (see agent/systemd). */
const V8_FLAGS = (process.env.EDGE_BENCH_V8_FLAGS ?? '--max-semi-space-size=1 --max-old-space-size=64').split(' ').filter(Boolean);

/** One line of the child's stdout starting with `tag`, parsed. */
function untilLine<T>(out: NodeJS.ReadableStream, tag: string): Promise<T> {
  return new Promise((resolve, reject) => {
    let text = '';
    const onData = (d: Buffer) => {
      text += d.toString();
      const line = text.split('\n').find((l) => l.startsWith(`${tag} `));
      if (!line) return;
      out.off('data', onData);
      resolve(JSON.parse(line.slice(tag.length + 1)) as T);
    };
    out.on('data', onData);
    out.once('end', () => reject(new Error(`backlog child ended before '${tag}': ${text}`)));
  });
}

export const suite: BenchSuite = {
  name: 'buffer',
  async run(log) {
    log('building dist/ (the child runs the built agent, as a gateway does)');
    execFileSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: 'inherit' });
    const hubDir = tempDir('bench-backlog-hub');
    const dataDir = tempDir('bench-backlog-agent');
    const hub = await IotHubEmulator.start({ dataDir: hubDir.path });
    try {
      const dev = await hub.registerDevice('bench-gw');
      const caFile = join(dataDir.path, 'ca.pem');
      writeFileSync(caFile, hub.caPem);
      hub.faults.refuseConnections({ mode: 'server-unavailable' });
      log(`ingesting ${RECORDS.toLocaleString('en-US')} readings with the hub unreachable`);
      const child = spawn(process.execPath, [...V8_FLAGS, 'scripts/bench/support/backlog-child.mjs', join(dataDir.path, 'agent'), dev.connectionString, caFile, String(RECORDS)], {
        cwd: ROOT,
        env: { ...process.env, MALLOC_ARENA_MAX: process.env.MALLOC_ARENA_MAX ?? '2' },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      const filled = await untilLine<{ ingestS: number; peakRssMb: number; anonMb: number; fileMb: number; outbox: number; bytes: number }>(child.stdout, 'filled');
      log(`backlog of ${filled.outbox.toLocaleString('en-US')} records (${(filled.bytes / 2 ** 20).toFixed(0)} MB) on disk; draining`);
      hub.faults.acceptConnections();
      const drained = await untilLine<{ drainS: number; peakRssMb: number; units: number; records: number }>(child.stdout, 'drained');
      await new Promise((r) => child.once('exit', r));
      const rows: BenchRow[] = [
        { name: `durable ingest of ${RECORDS.toLocaleString('en-US')} readings (100 per batch, fsync)`, value: RECORDS / filled.ingestS, unit: 'readings/s', note: 'hub unreachable' },
        { name: `peak RSS with ${filled.outbox.toLocaleString('en-US')} records waiting on disk`, value: filled.peakRssMb, unit: 'MB', note: 'target < 100 MB' },
        { name: '… of which anonymous (heap, malloc), sampled peak', value: filled.anonMb, unit: 'MB', note: 'sampled every 100 ms' },
        { name: '… of which file-backed (node binary, mapped LevelDB tables), sampled peak', value: filled.fileMb, unit: 'MB' },
        { name: `drain a ${RECORDS.toLocaleString('en-US')}-record backlog into the emulator`, value: drained.records / drained.drainS, unit: 'records/s', note: '256 KB messages, 8 in flight, TLS MQTT on loopback' },
        { name: 'peak RSS after the drain', value: drained.peakRssMb, unit: 'MB' },
        { name: 'billed 4 KB units per 1,000 drained readings', value: (drained.units * 1000) / drained.records, unit: 'units', baseline: { name: 'one message per reading', value: 1000 } },
      ];
      return rows;
    } finally {
      await hub.stop();
      hubDir.cleanup();
      dataDir.cleanup();
    }
  },
};
