import { execFileSync, spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, openSync, readFileSync, readSync, closeSync, readdirSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { childLimit, LONG_MS } from '../support/child.js';
import { ROOT } from '../support/cli.js';
import { tempDir } from '../support/tmp.js';

/**
 * `npm run package`, once for the whole file (about 20 s on 2 cores), then what a gateway does
 * with the result: unpack the .deb into a scratch root and run the installed binary (version and
 * the demo), far from any node_modules; the same through scripts/install.sh. The arm64 executable
 * runs under qemu-aarch64-static (user-mode emulation, called explicitly, not through binfmt) with
 * Debian's arm64 cross glibc/libstdc++ as its root (`-L`).
 */
const OUT = join(ROOT, 'dist/package');
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const DEB = join(OUT, `edge-agent_${VERSION}_amd64.deb`);

/** No NODE_PATH, no node_modules: what a gateway has. */
const bareEnv = (): NodeJS.ProcessEnv => {
  const env = { ...process.env };
  delete env.NODE_PATH;
  delete env.NODE_OPTIONS;
  delete env.EDGE_AGENT_NATIVE_DIR;
  return env;
};

function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeout?: number } = {}): SpawnSyncReturns<string> {
  return spawnSync(cmd, args, { encoding: 'utf8', cwd: opts.cwd ?? tmp.path, env: opts.env ?? bareEnv(), timeout: opts.timeout ?? 60_000 });
}

/** Every directory from `dir` up to / is free of node_modules. */
function noNodeModulesAround(dir: string): boolean {
  for (let d = dir; ; d = dirname(d)) {
    if (existsSync(join(d, 'node_modules'))) return false;
    if (d === dirname(d)) return true;
  }
}

function files(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.push(relative(dir, p));
    }
  };
  walk(dir);
  return out.sort();
}

/** ELF e_machine: 62 x86-64, 183 AArch64. */
function elfMachine(file: string): number {
  const b = Buffer.alloc(20);
  const fd = openSync(file, 'r');
  readSync(fd, b, 0, 20, 0);
  closeSync(fd);
  expect(b.subarray(0, 4).toString('latin1')).toBe('\x7fELF');
  return b.readUInt16LE(18);
}

/** User-mode qemu and the arm64 libraries the official node binary links (libc6-arm64-cross & co.). */
const QEMU = 'qemu-aarch64-static';
const ARM64_SYSROOT = '/usr/aarch64-linux-gnu';
const underQemu = (exe: string, args: string[]): [string, string[]] => [QEMU, ['-L', ARM64_SYSROOT, exe, ...args]];

const tmp = tempDir('pkg');
let buildSeconds = 0;

describe('npm run package: single executable, native addons, .deb, install.sh', () => {
  beforeAll(() => {
    const t0 = performance.now();
    execFileSync('npm', ['run', '--silent', 'package'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], timeout: 170_000 });
    buildSeconds = (performance.now() - t0) / 1000;
  }, 180_000);
  afterAll(() => tmp.cleanup());

  it('builds the x64 and arm64 executables with their addons, and the .deb', () => {
    const exe = join(OUT, 'linux-x64/edge-agent');
    expect(elfMachine(exe)).toBe(62);
    expect(elfMachine(join(OUT, 'linux-arm64/edge-agent'))).toBe(183);
    expect(statSync(join(OUT, 'linux-arm64/edge-agent')).mode & 0o111).toBe(0o111);
    expect(existsSync(join(OUT, 'linux-arm64/edge-agent.cjs'))).toBe(false);
    expect(elfMachine(join(OUT, 'linux-x64/native/classic-level/prebuilds/linux-x64/classic-level.node'))).toBe(62);
    expect(elfMachine(join(OUT, 'linux-x64/native/serialport/prebuilds/linux-x64/@serialport+bindings-cpp.glibc.node'))).toBe(62);
    expect(elfMachine(join(OUT, 'linux-arm64/native/classic-level/prebuilds/linux-arm64/classic-level.armv8.node'))).toBe(183);
    expect(elfMachine(join(OUT, 'linux-arm64/native/serialport/prebuilds/linux-arm64/@serialport+bindings-cpp.armv8.glibc.node'))).toBe(183);
    expect(readFileSync(join(OUT, 'linux-arm64/README'), 'utf8')).toMatch(/single executable \(Node 20\./);
    const sizes = { sea: statSync(exe).size, arm64: statSync(join(OUT, 'linux-arm64/edge-agent')).size, bundle: statSync(join(OUT, 'edge-agent.cjs')).size, deb: statSync(DEB).size };
    expect(sizes.deb).toBeLessThan(sizes.sea);
    const m = (n: number) => `${(n / 2 ** 20).toFixed(1)} MB`;
    console.log(`package: built in ${buildSeconds.toFixed(1)} s; SEA x64 ${m(sizes.sea)}, arm64 ${m(sizes.arm64)}, bundle ${m(sizes.bundle)}, .deb ${m(sizes.deb)}`);
  });

  it('the single executable runs without node_modules beside it, and needs its native/ addons', () => {
    const dir = join(tmp.path, 'sea');
    cpSync(join(OUT, 'linux-x64'), dir, { recursive: true });
    expect(noNodeModulesAround(dir)).toBe(true);
    const version = run(join(dir, 'edge-agent'), ['--version']);
    expect(version.stderr).toBe('');
    expect(version.stdout.trim()).toBe(VERSION);
    // The diagnostics face, from the executable, with no agent: one clear line.
    const status = run(join(dir, 'edge-agent'), ['status', '--socket', join(dir, 'none.sock')]);
    expect(status.status).toBe(1);
    expect(status.stderr).toMatch(/^edge-agent: the agent is not running .*\[EDGE_AGENT_NOT_RUNNING\]\n$/);
    // Take the addons away and the buffer cannot open: they come from beside the binary.
    rmSync(join(dir, 'native'), { recursive: true });
    const demo = run(join(dir, 'edge-agent'), ['demo', '--duration', '1s', '--data-dir', join(tmp.path, 'no-native')]);
    expect(demo.status).toBe(1);
    expect(demo.stderr).toMatch(/No native build was found|Cannot find module/);
  });

  describe('the arm64 single executable, under qemu-aarch64-static', () => {
    const dir = join(tmp.path, 'arm64');
    beforeAll(() => {
      cpSync(join(OUT, 'linux-arm64'), dir, { recursive: true });
    });

    it('prints the package version and the help, with no node_modules around it', () => {
      expect(noNodeModulesAround(dir)).toBe(true);
      const version = run(...underQemu(join(dir, 'edge-agent'), ['--version']));
      expect(version.error).toBeUndefined();
      expect(version.stderr).toBe('');
      expect(version.status).toBe(0);
      expect(version.stdout.trim()).toBe(VERSION);
      const help = run(...underQemu(join(dir, 'edge-agent'), ['--help']));
      expect(help.status, help.stderr).toBe(0);
      expect(help.stdout).toMatch(/^Usage: edge-agent /);
      expect(help.stdout).toMatch(/^ {2}run \[options\] +run the agent as a service/m);
    });

    it('runs the agent: LevelDB opens through the arm64 classic-level in native/, diagnostics answer, SIGTERM stops it', async () => {
      const work = join(tmp.path, 'arm64-run');
      mkdirSync(work, { recursive: true });
      const config = join(work, 'config.json');
      const socket = join(work, 'd.sock');
      // Nothing listens for this hub: the agent keeps retrying, which is not unhealthy.
      writeFileSync(
        config,
        JSON.stringify({ hub: { connectionString: `HostName=127.0.0.1;DeviceId=arm64;SharedAccessKey=${Buffer.alloc(32, 7).toString('base64')}` }, dataDir: join(work, 'data'), drivers: [], diagnostics: { enabled: true } }),
      );
      const [cmd, args] = underQemu(join(dir, 'edge-agent'), ['run', '--config', config, '--socket', socket]);
      const agent = spawn(cmd, args, { cwd: work, env: bareEnv(), stdio: ['ignore', 'pipe', 'pipe'], ...childLimit(LONG_MS) });
      let out = '';
      // The agent logs once its diagnostics socket listens: wait for that line, or for an exit.
      const listening = new Promise<boolean>((resolve) => {
        const onData = (d: Buffer) => {
          out += d.toString();
          if (out.includes('"msg":"diagnostics listening"')) resolve(true);
        };
        agent.stdout.on('data', onData);
        agent.stderr.on('data', onData);
        agent.on('exit', () => resolve(false));
      });
      const exited = new Promise<number | null>((resolve) => agent.on('exit', (code) => resolve(code)));
      try {
        expect(await listening, out).toBe(true);
        expect(existsSync(socket), out).toBe(true);
        // Asked from the x64 executable: the socket speaks the same protocol whatever the CPU.
        const buffer = run(join(OUT, 'linux-x64/edge-agent'), ['buffer', '--socket', socket]);
        expect(buffer.status, buffer.stderr).toBe(0);
        expect(buffer.stdout).toMatch(/^next seq +1$/m);
        expect(existsSync(join(work, 'data/buffer/CURRENT'))).toBe(true);
      } finally {
        agent.kill('SIGTERM');
      }
      expect(await exited, out).toBe(0);
      expect(out).toMatch(/"msg":"edge-agent started"/);
      expect(out).toMatch(/"msg":"edge-agent stopped"/);
      // Without native/ the buffer cannot open: the addon came from there, not from anywhere else.
      rmSync(join(dir, 'native'), { recursive: true });
      const bare = run(...underQemu(join(dir, 'edge-agent'), ['run', '--config', config, '--socket', join(work, 'bare.sock')]));
      expect(bare.status).toBe(1);
      expect(bare.stderr + bare.stdout).toMatch(/No native build was found|Cannot find module/);
    }, 60_000);
  });

  it('the bundle alone runs under a plain node with the addons given', () => {
    const r = run(process.execPath, [join(OUT, 'edge-agent.cjs'), '--version'], { env: { ...bareEnv(), EDGE_AGENT_NATIVE_DIR: join(OUT, 'linux-x64/native') } });
    expect(r.stdout.trim()).toBe(VERSION);
  });

  describe('the .deb', () => {
    const root = join(tmp.path, 'deb-root');

    it('has the control fields, the conffile and the maintainer scripts', () => {
      const info = execFileSync('dpkg-deb', ['--info', DEB], { encoding: 'utf8', ...childLimit() });
      expect(info).toMatch(/^ Package: edge-agent$/m);
      expect(info).toMatch(new RegExp(`^ Version: ${VERSION.replace(/\./g, '\\.')}$`, 'm'));
      expect(info).toMatch(/^ Architecture: amd64$/m);
      expect(info).toMatch(/^ Depends: adduser, systemd$/m);
      for (const s of ['postinst', 'prerm', 'postrm', 'conffiles']) expect(info).toContain(` ${s} `);
      expect(execFileSync('dpkg-deb', ['--field', DEB, 'Package'], { encoding: 'utf8', ...childLimit() }).trim()).toBe('edge-agent');
      const postinst = execFileSync('dpkg-deb', ['--info', DEB, 'postinst'], { encoding: 'utf8', ...childLimit() });
      expect(postinst).toMatch(/adduser --system --ingroup edge-agent/);
      expect(postinst).toMatch(/adduser edge-agent dialout/);
    });

    it('unpacks into a scratch root: binary, addons, unit, default config (0640), docs', () => {
      mkdirSync(root, { recursive: true });
      execFileSync('dpkg-deb', ['-x', DEB, root], childLimit());
      expect(readlinkSync(join(root, 'usr/bin/edge-agent'))).toBe('../lib/edge-agent/edge-agent');
      expect(statSync(join(root, 'usr/lib/edge-agent/edge-agent')).mode & 0o111).toBe(0o111);
      expect(existsSync(join(root, 'usr/lib/edge-agent/native/classic-level/prebuilds/linux-x64/classic-level.node'))).toBe(true);
      expect(readFileSync(join(root, 'lib/systemd/system/edge-agent.service'), 'utf8')).toBe(readFileSync(join(ROOT, 'config/edge-agent.service'), 'utf8'));
      expect(statSync(join(root, 'etc/edge-agent/config.json')).mode & 0o777).toBe(0o640);
      expect(JSON.parse(readFileSync(join(root, 'etc/edge-agent/config.json'), 'utf8'))).toMatchObject({ dataDir: '/var/lib/edge-agent' });
    });

    it('the installed binary runs --version and the demo, far from any node_modules', () => {
      const bin = join(root, 'usr/bin/edge-agent');
      expect(noNodeModulesAround(join(root, 'usr/lib/edge-agent'))).toBe(true);
      expect(run(bin, ['--version']).stdout.trim()).toBe(VERSION);
      const demo = run(bin, ['demo', '--duration', '3s', '--data-dir', join(tmp.path, 'demo')], { timeout: 60_000 });
      expect(demo.status, demo.stderr).toBe(0);
      const summary = JSON.parse(demo.stdout.trim().split('\n').at(-1)!) as { readings: number; recordsInHub: number; reconciledRows: number };
      expect(summary.readings).toBeGreaterThan(0);
      expect(summary.recordsInHub).toBeGreaterThanOrEqual(summary.readings);
      // LevelDB (classic-level) and the reconciler's SQLite (better-sqlite3) both loaded from native/.
      expect(summary.reconciledRows).toBeGreaterThanOrEqual(summary.readings);
    });

    it('the installed unit passes systemd-analyze verify against the installed binary', () => {
      const unit = readFileSync(join(root, 'lib/systemd/system/edge-agent.service'), 'utf8');
      const file = join(tmp.path, 'edge-agent.service');
      writeFileSync(file, unit.replace(/^ExecStart=\/usr\/bin\/edge-agent/m, `ExecStart=${join(root, 'usr/bin/edge-agent')}`));
      const r = spawnSync('systemd-analyze', ['verify', file], { encoding: 'utf8', ...childLimit() });
      expect(`${r.stdout}${r.stderr}`).toBe('');
      expect(r.status).toBe(0);
    });

    it('dpkg --root registers it (unpacked; the maintainer scripts would need the target system)', () => {
      const dpkgRoot = join(tmp.path, 'dpkg-root');
      mkdirSync(join(dpkgRoot, 'var/lib/dpkg/updates'), { recursive: true });
      mkdirSync(join(dpkgRoot, 'var/lib/dpkg/info'), { recursive: true });
      writeFileSync(join(dpkgRoot, 'var/lib/dpkg/status'), '');
      const unpack = run('dpkg', [`--root=${dpkgRoot}`, '--force-depends', '--force-not-root', '--unpack', DEB]);
      expect(unpack.status, unpack.stderr).toBe(0);
      const listed = run('dpkg', [`--root=${dpkgRoot}`, '-L', 'edge-agent']).stdout;
      expect(listed).toMatch(/^\/usr\/lib\/edge-agent\/edge-agent$/m);
      expect(listed).toMatch(/^\/lib\/systemd\/system\/edge-agent\.service$/m);
      expect(readFileSync(join(dpkgRoot, 'var/lib/dpkg/info/edge-agent.conffiles'), 'utf8')).toBe('/etc/edge-agent/config.json\n');
      expect(run(join(dpkgRoot, 'usr/bin/edge-agent'), ['--version']).stdout.trim()).toBe(VERSION);
    });
  });

  it('scripts/install.sh (no dpkg) lays down the same files as the .deb', () => {
    const staged = join(tmp.path, 'install-root');
    const r = run('sh', [join(ROOT, 'scripts/install.sh'), '--from', join(OUT, 'linux-x64')], { env: { ...bareEnv(), DESTDIR: staged } });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/staged into .* \(no user created, systemd not told: DESTDIR install\)/);
    const debRoot = join(tmp.path, 'deb-root');
    if (!existsSync(debRoot)) execFileSync('dpkg-deb', ['-x', DEB, debRoot], childLimit());
    const debFiles = files(debRoot).filter((f) => !f.startsWith('usr/share/doc/'));
    expect(files(staged)).toEqual(debFiles);
    expect(statSync(join(staged, 'etc/edge-agent/config.json')).mode & 0o777).toBe(0o640);
    expect(run(join(staged, 'usr/bin/edge-agent'), ['--version']).stdout.trim()).toBe(VERSION);
    // Again: an existing config is kept.
    writeFileSync(join(staged, 'etc/edge-agent/config.json'), '{"mine":true}');
    expect(run('sh', [join(ROOT, 'scripts/install.sh'), '--from', join(OUT, 'linux-x64')], { env: { ...bareEnv(), DESTDIR: staged } }).stdout).toMatch(/keeping the existing/);
    expect(readFileSync(join(staged, 'etc/edge-agent/config.json'), 'utf8')).toBe('{"mine":true}');
  });
});
