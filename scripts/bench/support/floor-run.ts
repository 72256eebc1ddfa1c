// Runs floor-child.mjs (the agent's parts without the agent) under the unit's environment and
// samples its RSS as plant-run samples the real agent's.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { IotHubEmulator } from '../../../cloud/iothub/index.js';
import { tempDir } from '../../../test/support/tmp.js';
import { median, memoryMb } from './proc-sampler.js';
import { unitEnvironment } from './unit-env.js';

export interface FloorFigures {
  rssMedianMb: number;
  rssPeakMb: number;
  anonMedianMb: number;
  fileMedianMb: number;
}

export async function runFloor(o: { root: string; hub: IotHubEmulator; layers: string[]; warmupS: number; measureS: number }): Promise<FloorFigures> {
  const dir = tempDir('bench-floor');
  const dev = await o.hub.registerDevice(`floor-${Math.random().toString(36).slice(2, 8)}`);
  const caFile = join(dir.path, 'hub-ca.pem');
  writeFileSync(caFile, o.hub.caPem);
  const child = spawn(process.execPath, ['scripts/bench/support/floor-child.mjs', dev.connectionString, caFile, join(dir.path, 'db')], {
    cwd: o.root,
    env: { ...process.env, ...unitEnvironment(o.root), FLOOR_LAYERS: o.layers.join(',') },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const killer = setTimeout(() => child.kill('SIGKILL'), (o.warmupS + o.measureS + 60) * 1000);
  try {
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
      child.once('exit', (code) => reject(new Error(`floor child (${o.layers.join('+') || 'bare'}) exited ${code} before it was ready`)));
    });
    await delay(o.warmupS * 1000);
    const rss: number[] = [];
    const anon: number[] = [];
    const file: number[] = [];
    for (let i = 0; i < o.measureS; i++) {
      await delay(1000);
      const m = memoryMb(child.pid!);
      rss.push(m.rss);
      anon.push(m.anon);
      file.push(m.file);
    }
    return { rssMedianMb: median(rss), rssPeakMb: memoryMb(child.pid!).hwm, anonMedianMb: median(anon), fileMedianMb: median(file) };
  } finally {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
    clearTimeout(killer);
    dir.cleanup();
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
