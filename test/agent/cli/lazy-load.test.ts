import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Command, type Option } from 'commander';
import { afterEach, describe, expect, it } from 'vitest';
import { registerCloud } from '../../../agent/cli/commands/cloud.js';
import { DEFAULT_STORE_LOCATION } from '../../../cloud/reconciler/index.js';
import { childLimit } from '../../support/child.js';
import { finished, ROOT } from '../../support/cli.js';
import { tempDir } from '../../support/tmp.js';

/**
 * Commands load their implementation only when their action runs (agent/cli/README.md), so that
 * `edge-agent run` does not carry the hub emulator, the reconciler or the demo. A resolve hook
 * (test/support/import-log.mjs) lists every module the CLI loads.
 */
interface Loaded {
  code: number | null;
  stderr: string;
  /** Project files, relative to the repository root. */
  files: string[];
  /** npm packages, by name. */
  packages: string[];
}

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

async function loadedBy(args: string[], entry = 'agent/cli/main.ts'): Promise<Loaded> {
  const dir = tempDir('lazy-load');
  cleanups.push(dir.cleanup);
  const log = join(dir.path, 'modules.txt');
  const hooks = pathToFileURL(join(ROOT, 'test/support/import-log.mjs')).href;
  const register = `import { register } from 'node:module'; register(${JSON.stringify(hooks)}, { data: { file: ${JSON.stringify(log)} } });`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--import', `data:text/javascript,${encodeURIComponent(register)}`, entry, ...args], {
    cwd: ROOT,
    env: { ...process.env, NODE_OPTIONS: '' },
    ...childLimit(),
  });
  child.stdin.end();
  const run = await finished(child);
  const files = new Set<string>();
  const packages = new Set<string>();
  for (const url of readFileSync(log, 'utf8').split('\n')) {
    if (!url.startsWith('file:')) continue;
    const path = relative(ROOT, fileURLToPath(url));
    const pkg = /(?:^|\/)node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path);
    if (pkg) packages.add(pkg[1]!);
    else files.add(path);
  }
  return { code: run.code, stderr: run.stderr, files: [...files].sort(), packages: [...packages].sort() };
}

/** What only an action may load: the emulator, the reconciler, drivers, the demo, the agent itself. */
const HEAVY_FILES = /^(cloud|drivers)\/|^agent\/(demo|runtime|analytics|forwarder|store|transport)\/|^agent\/diagnostics\/(server|metrics|log-control)\./;

describe('edge-agent loads a command’s implementation only when it runs', () => {
  for (const args of [['--version'], ['run', '--help'], ['--help']]) {
    it(`${args.join(' ')} loads commander and the command registrations, nothing heavy`, async () => {
      const r = await loadedBy(args);
      expect(r.code, r.stderr).toBe(0);
      expect(r.files).toContain('agent/cli/main.ts');
      expect(r.files).toContain('agent/cli/commands/cloud.ts');
      // Not aedes, better-sqlite3, pg, serialport, prom-client, pino, the Azure SDKs, LevelDB, zod…
      expect(r.packages).toEqual(['commander']);
      expect(r.files.filter((f) => HEAVY_FILES.test(f))).toEqual([]);
    });
  }

  it('the hook does see what an action loads (so the checks above are not vacuous)', async () => {
    const r = await loadedBy(['cloud', 'gaps', '--store', 'sqlite:/nonexistent/reconciler.db']);
    expect(r.code).toBe(1);
    expect(r.packages).toEqual(expect.arrayContaining(['better-sqlite3', 'pg']));
    expect(r.files).toContain('agent/cli/commands/cloud-actions.ts');
  });

  it('the --store default that `cloud` registers without loading the reconciler is the reconciler’s own', () => {
    const saved = process.env.EDGE_RECONCILER_STORE;
    delete process.env.EDGE_RECONCILER_STORE;
    try {
      const program = new Command('edge-agent');
      registerCloud(program);
      const cloud = program.commands.find((c) => c.name() === 'cloud')!;
      for (const sub of cloud.commands) {
        const store = sub.options.find((o: Option) => o.long === '--store')!;
        expect(store.defaultValue, sub.name()).toBe(DEFAULT_STORE_LOCATION);
      }
      expect(cloud.commands.map((c) => c.name())).toEqual(['run', 'results', 'gaps']);
    } finally {
      if (saved !== undefined) process.env.EDGE_RECONCILER_STORE = saved;
    }
  });
});

describe('the gateway loads the DPS SDK only when it provisions', () => {
  it('composing an agent (build-agent) pulls in the device SDK but not azure-iot-provisioning-device and its security clients', async () => {
    const r = await loadedBy([], 'agent/runtime/build-agent.ts');
    expect(r.code, r.stderr).toBe(0);
    expect(r.packages).toContain('azure-iot-device');
    expect(r.packages.filter((p) => p.startsWith('azure-iot-provisioning') || p.startsWith('azure-iot-security'))).toEqual([]);
  });
});
