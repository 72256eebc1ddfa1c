import { execFileSync, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { IotHubEmulator } from '../../cloud/iothub/index.js';
import { tempDir } from '../../test/support/tmp.js';
import type { BenchRow, BenchSuite } from './harness.js';
import { unitEnvironment } from './support/unit-env.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const RECORDS = Number(process.env.EDGE_BENCH_BACKLOG ?? 1_000_000);
/** With the backlog on disk, the agent runs on at the rate the durability tests use. */
const WAIT_RATE = 1000;
const WAIT_S = Number(process.env.EDGE_BENCH_WAIT_S ?? 30);

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
      const unitEnv = unitEnvironment(ROOT);
      log(`child environment from the unit: ${Object.entries(unitEnv).map(([k, v]) => `${k}=${v}`).join(' ')}`);
      const child = spawn(process.execPath, ['scripts/bench/support/backlog-child.mjs', join(dataDir.path, 'agent'), dev.connectionString, caFile, String(RECORDS), String(WAIT_RATE), String(WAIT_S)], {
        cwd: ROOT,
        env: { ...process.env, ...unitEnv },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      type Peak = { peakRssMb: number; anonMb: number; fileMb: number };
      const filled = await untilLine<Peak & { ingestS: number; outbox: number; bytes: number }>(child.stdout, 'filled');
      log(`backlog of ${filled.outbox.toLocaleString('en-US')} records (${(filled.bytes / 2 ** 20).toFixed(0)} MB) on disk; running on at ${WAIT_RATE} readings/s for ${WAIT_S} s`);
      const waited = await untilLine<Peak & { outbox: number }>(child.stdout, 'waited');
      log(`draining ${waited.outbox.toLocaleString('en-US')} records`);
      hub.faults.acceptConnections();
      const drained = await untilLine<Peak & { drainS: number; units: number; records: number }>(child.stdout, 'drained');
      await new Promise((r) => child.once('exit', r));
      const n = (x: number) => x.toLocaleString('en-US');
      const rows: BenchRow[] = [
        { name: `durable ingest of ${n(RECORDS)} readings (100 per batch, fsync)`, value: RECORDS / filled.ingestS, unit: 'readings/s', note: 'hub unreachable' },
        { name: `peak RSS during that burst (${n(Math.round(RECORDS / filled.ingestS))} readings/s)`, value: filled.peakRssMb, unit: 'MB' },
        { name: '… of which anonymous (heap, malloc), sampled peak', value: filled.anonMb, unit: 'MB', note: 'sampled every 100 ms' },
        { name: '… of which file-backed (node binary, mapped LevelDB tables), sampled peak', value: filled.fileMb, unit: 'MB' },
        { name: `peak RSS while ${n(waited.outbox)} records wait on disk (${WAIT_S} s at ${n(WAIT_RATE)} readings/s, hub unreachable)`, value: waited.peakRssMb, unit: 'MB', note: 'target < 100 MB' },
        { name: '… of which anonymous, sampled peak', value: waited.anonMb, unit: 'MB' },
        { name: '… of which file-backed, sampled peak', value: waited.fileMb, unit: 'MB' },
        { name: `drain a ${n(drained.records)}-record backlog into the emulator`, value: drained.records / drained.drainS, unit: 'records/s', note: '256 KB messages, 8 in flight, TLS MQTT on loopback' },
        { name: 'peak RSS during the drain', value: drained.peakRssMb, unit: 'MB' },
        { name: '… of which anonymous, sampled peak', value: drained.anonMb, unit: 'MB' },
        { name: '… of which file-backed, sampled peak', value: drained.fileMb, unit: 'MB' },
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
