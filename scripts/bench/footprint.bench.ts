// What the real `edge-agent run` loads and what it holds: the module list (ES and CommonJS) and
// RSS with no drivers and with 500 points/s of pass-through, under the unit's environment; and
// beside them the floor: the same traffic through the agent's parts alone (SDK, LevelDB, libraries)
// with none of the agent's code, to show what any agent built on them must hold.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { IotHubEmulator } from '../../cloud/iothub/index.js';
import { tempDir } from '../../test/support/tmp.js';
import type { BenchRow, BenchSuite } from './harness.js';
import { PHASES } from './support/plant-config.js';
import { runFloor } from './support/floor-run.js';
import { runPhase } from './support/plant-run.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** Packages a gateway process has no use for (cloud side, tests, packaging). */
const NOT_GATEWAY = ['aedes', 'better-sqlite3', 'pg', '@azure/event-hubs', 'node-forge', 'node-cron'];

function loaded(log: string): { files: string[]; packages: Map<string, number> } {
  const files = new Set<string>();
  const packages = new Map<string, number>();
  for (const url of new Set(readFileSync(log, 'utf8').split('\n'))) {
    if (!url.startsWith('file:')) continue;
    const path = relative(ROOT, fileURLToPath(url));
    const pkg = /(?:^|\/)node_modules\/((?:@[^/]+\/)?[^/]+)\/(?!.*node_modules)/.exec(path);
    if (pkg) packages.set(pkg[1]!, (packages.get(pkg[1]!) ?? 0) + 1);
    else files.add(path);
  }
  return { files: [...files].sort(), packages };
}

export const suite: BenchSuite = {
  name: 'footprint',
  async run(log) {
    log('building dist/');
    execFileSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: 'inherit' });
    const work = tempDir('bench-footprint');
    const hub = await IotHubEmulator.start({ dataDir: join(work.path, 'hub') });
    try {
      const moduleLog = join(work.path, 'modules.txt');
      const common = { root: ROOT, hub, phase: PHASES[0]!, warmupS: 5, measureS: 20, log };
      const idle = await runPhase({ ...common, shape: { drivers: 0, pointsPerDriver: 0 } });
      const busy = await runPhase({ ...common, shape: { drivers: 5, pointsPerDriver: 100 }, nodeArgs: ['--import', './scripts/bench/support/module-log.mjs'], env: { EDGE_MODULE_LOG: moduleLog } });
      const { files, packages } = loaded(moduleLog);
      const list = [...packages.entries()].sort((a, b) => b[1] - a[1]);
      log(`packages (modules): ${list.map(([p, n]) => `${p} (${n})`).join(', ')}`);
      log(`project files by folder: ${JSON.stringify(Object.fromEntries(countBy(files)))}`);
      const floors: Array<[string, string[]]> = [
        ['bare node, idle', []],
        ['azure-iot-device client sending 500 readings/s (5 gzip messages/s)', ['sdk']],
        ['… + LevelDB taking each reading, synced', ['sdk', 'level']],
        ['… + pino and zod loaded', ['sdk', 'level', 'libs']],
      ];
      const floorRows: BenchRow[] = [];
      for (const [label, layers] of floors) {
        const f = await runFloor({ root: ROOT, hub, layers, warmupS: 5, measureS: 20 });
        log(`floor, ${label}: ${JSON.stringify(f)}`);
        floorRows.push({ name: `floor: ${label}: RSS median / peak`, value: f.rssMedianMb, unit: 'MB', baseline: { name: 'edge-agent run, 500 points/s pass-through, RSS median', value: busy.rssMedianMb }, note: `peak ${f.rssPeakMb.toFixed(1)} MB; ${f.anonMedianMb.toFixed(0)} anonymous + ${f.fileMedianMb.toFixed(0)} file-backed` });
      }
      const strays = list.filter(([p]) => NOT_GATEWAY.includes(p)).map(([p]) => p);
      const cloud = files.filter((f) => f.startsWith('dist/cloud/'));
      return [
        { name: 'edge-agent run, no drivers: RSS median', value: idle.rssMedianMb, unit: 'MB', note: 'hub connected, unit environment' },
        { name: 'edge-agent run, no drivers: RSS peak (VmHWM)', value: idle.rssPeakMb, unit: 'MB' },
        { name: 'edge-agent run, 500 points/s pass-through: RSS median', value: busy.rssMedianMb, unit: 'MB', baseline: { name: 'no drivers', value: idle.rssMedianMb } },
        { name: 'edge-agent run, 500 points/s pass-through: RSS peak (VmHWM)', value: busy.rssPeakMb, unit: 'MB', baseline: { name: 'no drivers', value: idle.rssPeakMb }, note: 'target ≤ 64 MB' },
        { name: 'modules loaded: npm packages', value: packages.size, unit: 'packages', note: list.slice(0, 12).map(([p]) => p).join(' ') },
        { name: 'modules loaded: files from npm packages', value: list.reduce((a, [, n]) => a + n, 0), unit: 'files' },
        { name: 'modules loaded: project files', value: files.length, unit: 'files' },
        { name: 'cloud-side or non-gateway modules loaded', value: strays.length + cloud.length, unit: 'modules', note: [...strays, ...cloud].join(' ') || 'none' },
        ...floorRows,
      ] satisfies BenchRow[];
    } finally {
      await hub.stop();
      work.cleanup();
    }
  },
};

function countBy(files: string[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const f of files) {
    const key = f.split('/').slice(0, 3).join('/');
    out.set(key, (out.get(key) ?? 0) + 1);
  }
  return out;
}
