import { execFileSync, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { closeSync, cpSync, existsSync, mkdirSync, openSync, readFileSync, readSync, readdirSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StatusReport } from '../../agent/diagnostics/handlers/status.js';
import { childLimit, execFileLimited, type FileRun } from '../support/child.js';
import { ROOT } from '../support/cli.js';
import { untilStatus } from '../support/status.js';
import { tempDir } from '../support/tmp.js';
import { bareEnv, startAgent, writeAgentConfig } from './support/agent-process.js';
import { scratchRoot } from './support/scratch-root.js';

/**
 * `npm run package`, once for the whole file, then what a gateway does with the result: the
 * .debs' contents checked (md5sums, copyright, changelog, lintian), the amd64 one installed by
 * real dpkg into a scratch root and upgraded under a running agent, the arm64 one unpacked and
 * its binary run under qemu-aarch64-static (user-mode emulation, called explicitly, not through
 * binfmt, rooted at Debian's arm64 cross glibc/libstdc++ with `-L`), and scripts/install.sh.
 */
const OUT = join(ROOT, 'dist/package');
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
/** The package's version is the top entry of the Debian changelog. */
const DEB_VERSION = /^edge-agent \(([^)]+)\)/.exec(readFileSync(join(ROOT, 'scripts/debian/changelog'), 'utf8'))![1]!;
const DEB = { amd64: join(OUT, `edge-agent_${DEB_VERSION}_amd64.deb`), arm64: join(OUT, `edge-agent_${DEB_VERSION}_arm64.deb`) };
const ARCHES = ['amd64', 'arm64'] as const;

function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeout?: number } = {}): SpawnSyncReturns<string> {
  return spawnSync(cmd, args, { encoding: 'utf8', cwd: opts.cwd ?? tmp.path, env: opts.env ?? bareEnv(), ...childLimit(opts.timeout ?? 60_000) });
}

/** Every directory from `dir` up to / is free of node_modules. */
function noNodeModulesAround(dir: string): boolean {
  for (let d = dir; ; d = dirname(d)) {
    if (existsSync(join(d, 'node_modules'))) return false;
    if (d === dirname(d)) return true;
  }
}

/** Regular files and symlinks under `dir`, relative, sorted. */
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

/** What esbuild took into the gateway bundle (its metafile, written by the build). */
function bundleInputs(): string[] {
  return Object.keys((JSON.parse(readFileSync(join(OUT, 'edge-agent.meta.json'), 'utf8')) as { inputs: Record<string, unknown> }).inputs);
}

/** The npm package directories of those inputs, from the first node_modules/ to the innermost package. */
function npmDirs(inputs: string[]): string[] {
  const dirs = inputs.flatMap((p) => {
    const at = p.indexOf('node_modules/');
    const m = at < 0 ? null : /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(p.slice(at));
    return m ? [m[1]!] : [];
  });
  return [...new Set(dirs)];
}

/** User-mode qemu and the arm64 libraries the official node binary links (libc6-arm64-cross & co.). */
const QEMU = 'qemu-aarch64-static';
const ARM64_SYSROOT = '/usr/aarch64-linux-gnu';
const underQemu = (exe: string, args: string[]): [string, string[]] => [QEMU, ['-L', ARM64_SYSROOT, exe, ...args]];

/** Unpacks a .deb's files and control files (once per target directory). */
function unpack(deb: string, dir: string): { root: string; control: string } {
  const root = join(dir, 'root');
  const control = join(dir, 'DEBIAN');
  if (!existsSync(control)) {
    mkdirSync(root, { recursive: true });
    execFileSync('dpkg-deb', ['-x', deb, root], childLimit());
    execFileSync('dpkg-deb', ['-e', deb, control], childLimit());
  }
  return { root, control };
}

const tmp = tempDir('pkg');
let buildSeconds = 0;
/** lintian on both .debs, started once the build is done, in parallel with the tests below. */
let lintian: Promise<Array<FileRun & { arch: string }>> | undefined;

describe('npm run package: gateway bundle, single executables, .debs for amd64 and arm64, install.sh', () => {
  beforeAll(() => {
    const t0 = performance.now();
    execFileSync('npm', ['run', '--silent', 'package'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], ...childLimit(170_000) });
    buildSeconds = (performance.now() - t0) / 1000;
    // --fail-on none: the test reads the tags; -I: info tags too, so an override that matched
    // nothing (unused-override) shows.
    lintian = Promise.all(
      ARCHES.map((arch) =>
        execFileLimited('lintian', ['-I', '--fail-on', 'none', '--tag-display-limit', '0', DEB[arch]], { timeout: 170_000 }).then(
          (r) => ({ ...r, arch }),
          (err: NodeJS.ErrnoException) => {
            if (err.code === 'ENOENT') throw new Error('lintian is needed for the package tests: apt-get install -y lintian (npm test\'s pretest installs it as root)');
            throw err;
          },
        ),
      ),
    );
    lintian.catch(() => undefined); // awaited, and reported, by its own test
  }, 180_000);
  afterAll(() => tmp.cleanup());

  it('builds stripped x64 and arm64 executables with their glibc addons, and both .debs', () => {
    const exe = join(OUT, 'linux-x64/edge-agent');
    const armExe = join(OUT, 'linux-arm64/edge-agent');
    expect(elfMachine(exe)).toBe(62);
    expect(elfMachine(armExe)).toBe(183);
    expect(statSync(armExe).mode & 0o111).toBe(0o111);
    // No symbol table left (.symtab's name is in the section name table only when it is there).
    for (const e of [exe, armExe]) expect(readFileSync(e).includes('.symtab\0')).toBe(false);
    expect(statSync(exe).size).toBeLessThan(statSync(process.execPath).size);
    expect(files(join(OUT, 'linux-x64/native'))).toEqual(['classic-level/prebuilds/linux-x64/classic-level.node', 'serialport/prebuilds/linux-x64/@serialport+bindings-cpp.glibc.node']);
    expect(files(join(OUT, 'linux-arm64/native'))).toEqual(['classic-level/prebuilds/linux-arm64/classic-level.armv8.node', 'serialport/prebuilds/linux-arm64/@serialport+bindings-cpp.armv8.glibc.node']);
    for (const f of files(join(OUT, 'linux-arm64/native'))) expect(elfMachine(join(OUT, 'linux-arm64/native', f))).toBe(183);
    for (const f of files(join(OUT, 'linux-x64/native'))) expect(elfMachine(join(OUT, 'linux-x64/native', f))).toBe(62);
    const m = (n: number) => `${(n / 2 ** 20).toFixed(1)} MB`;
    const sizes = { sea: statSync(exe).size, arm64: statSync(armExe).size, bundle: statSync(join(OUT, 'edge-agent.cjs')).size, amd64: statSync(DEB.amd64).size, arm64Deb: statSync(DEB.arm64).size };
    expect(sizes.amd64).toBeLessThan(sizes.sea);
    expect(sizes.arm64Deb).toBeLessThan(sizes.arm64);
    console.log(`package: built in ${buildSeconds.toFixed(1)} s; SEA x64 ${m(sizes.sea)}, arm64 ${m(sizes.arm64)}, bundle ${m(sizes.bundle)}, .deb amd64 ${m(sizes.amd64)}, arm64 ${m(sizes.arm64Deb)}`);
  });

  it('the gateway bundle holds no demo, emulator, reconciler or simulator, and those commands say so', () => {
    const inputs = bundleInputs();
    const pkgs = new Set(npmDirs(inputs).map((d) => d.slice(d.lastIndexOf('node_modules/') + 'node_modules/'.length)));
    for (const gone of ['aedes', 'node-forge', 'rhea', 'rhea-promise', 'pg', 'better-sqlite3', '@azure/event-hubs']) expect(pkgs.has(gone), gone).toBe(false);
    for (const kept of ['level', 'classic-level', 'azure-iot-device-mqtt', 'pino', 'zod', 'commander']) expect(pkgs.has(kept), kept).toBe(true);
    expect(inputs.filter((p) => /^(cloud|agent\/demo|drivers\/simulators)\//.test(p))).toEqual([]);
    expect(inputs).toContain('agent/runtime/edge-agent.ts');
    const bundle = readFileSync(join(OUT, 'edge-agent.cjs'), 'utf8');
    expect(bundle).not.toMatch(/class (IotHubEmulator|Reconciler|Aedes)\b/);
    const exe = join(OUT, 'linux-x64/edge-agent');
    const refusals: Array<[string[], RegExp]> = [
      [['demo', '--duration', '1s'], /^edge-agent: the demo \(Modbus simulator, IoT Hub emulator, reconciler\) is not included in the gateway package; run it from a checkout .*\[EDGE_USAGE\]\n$/],
      [['hub', 'start', '--data-dir', join(tmp.path, 'hub')], /^edge-agent: 'hub' \(the local IoT Hub emulator\) is not included in the gateway package.*\[EDGE_USAGE\]\n$/],
      [['cloud', 'run', '--once', '--hub-data-dir', join(tmp.path, 'hub')], /^edge-agent: 'cloud' \(the reconciler, which runs in the cloud\) is not included in the gateway package.*\[EDGE_USAGE\]\n$/],
    ];
    for (const [args, message] of refusals) {
      const r = run(exe, args);
      expect(r.stderr).toMatch(message);
      expect(r.status).toBe(2);
    }
    // The simulators' absence costs the commissioning commands nothing: modbus read still parses and tries.
    const read = run(exe, ['modbus', 'read', '--host', '127.0.0.1', '--tcp-port', '1', '--unit', '1', '--address', '0']);
    expect(read.stderr).toMatch(/ECONNREFUSED.*\[EDGE_DEVICE_UNAVAILABLE\]/);
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
    const config = join(dir, 'config.json');
    writeAgentConfig(config, join(dir, 'data'));
    const agent = run(join(dir, 'edge-agent'), ['run', '--config', config, '--socket', join(dir, 'd.sock')]);
    expect(agent.status).toBe(1);
    expect(agent.stderr + agent.stdout).toMatch(/No native build was found|Cannot find module/);
  });

  it('the bundle alone runs under a plain node with the addons given', () => {
    const r = run(process.execPath, [join(OUT, 'edge-agent.cjs'), '--version'], { env: { ...bareEnv(), EDGE_AGENT_NATIVE_DIR: join(OUT, 'linux-x64/native') } });
    expect(r.stdout.trim()).toBe(VERSION);
  });

  describe.each(ARCHES)('the %s .deb', (arch) => {
    const dir = join(tmp.path, `deb-${arch}`);

    it('has its control fields, conffile, maintainer scripts and md5sums that match every file', () => {
      const { root, control } = unpack(DEB[arch], dir);
      const field = (name: string) => execFileSync('dpkg-deb', ['--field', DEB[arch], name], { encoding: 'utf8', ...childLimit() }).trim();
      expect(field('Package')).toBe('edge-agent');
      expect(field('Version')).toBe(DEB_VERSION);
      expect(field('Architecture')).toBe(arch);
      expect(field('Depends')).toMatch(/^libc6 \(>= 2\.\d+\), libgcc-s1, libstdc\+\+6( \(>= \d+\))?, systemd$/);
      expect(readFileSync(join(control, 'conffiles'), 'utf8')).toBe('/etc/edge-agent/config.json\n');
      for (const s of ['postinst', 'prerm', 'postrm']) expect(statSync(join(control, s)).mode & 0o777, s).toBe(0o755);
      // md5sums names every regular file (not the /usr/bin symlink) and each sum holds.
      const sums = readFileSync(join(control, 'md5sums'), 'utf8').trimEnd().split('\n');
      const regular = files(root).filter((f) => !f.startsWith('usr/bin/'));
      expect(sums.map((l) => l.slice(34)).sort()).toEqual(regular);
      const check = run('md5sum', ['--check', '--quiet', join(control, 'md5sums')], { cwd: root });
      expect(check.status, check.stdout + check.stderr).toBe(0);
      expect(readlinkSync(join(root, 'usr/bin/edge-agent'))).toBe('../lib/edge-agent/edge-agent');
      expect(elfMachine(join(root, 'usr/lib/edge-agent/edge-agent'))).toBe(arch === 'amd64' ? 62 : 183);
      expect(statSync(join(root, 'etc/edge-agent/config.json')).mode & 0o777).toBe(0o640);
      expect(readFileSync(join(root, 'lib/systemd/system/edge-agent.service'), 'utf8')).toBe(readFileSync(join(ROOT, 'config/edge-agent.service'), 'utf8'));
      expect(readFileSync(join(root, 'usr/lib/sysusers.d/edge-agent.conf'), 'utf8')).toMatch(/^u edge-agent - /m);
    });

    it('has a machine-readable copyright naming every bundled npm package, its Debian changelog and a man page', () => {
      const { root } = unpack(DEB[arch], dir);
      const doc = join(root, 'usr/share/doc/edge-agent');
      const copyright = readFileSync(join(doc, 'copyright'), 'utf8');
      expect(copyright.split('\n')[0]).toBe('Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/');
      const bundled = npmDirs(bundleInputs());
      expect(bundled.length).toBeGreaterThan(20);
      for (const p of bundled) expect(copyright, p).toContain(`\nFiles: ${p}/*\n`);
      expect(copyright).not.toMatch(/^Files: node_modules\/(aedes|node-forge|pg|better-sqlite3)\//m);
      expect(copyright).toMatch(new RegExp(`^Comment: the Node\\.js ${arch === 'amd64' ? process.versions.node.replace(/\./g, '\\.') : '20\\.\\d+\\.\\d+'} runtime`, 'm'));
      // Debian's own parser reads the changelog; its top entry is the package's version.
      const changelog = join(tmp.path, `changelog-${arch}`);
      writeFileSync(changelog, gunzipSync(readFileSync(join(doc, 'changelog.Debian.gz'))));
      const parsed = run('dpkg-parsechangelog', ['-l', changelog, '-S', 'Version']);
      expect(parsed.stdout.trim(), parsed.stderr).toBe(DEB_VERSION);
      const man = gunzipSync(readFileSync(join(root, 'usr/share/man/man1/edge-agent.1.gz'))).toString();
      expect(man).toMatch(/^\.TH EDGE-AGENT 1 /);
      expect(man).toMatch(/^\.SS run$/m);
      const rendered = run('man', ['--warnings', '-l', '-Tutf8', join(root, 'usr/share/man/man1/edge-agent.1.gz')], { env: { ...bareEnv(), MANWIDTH: '80' } });
      expect(rendered.status, rendered.stderr).toBe(0);
      expect(rendered.stderr).toBe('');
      expect(rendered.stdout).toMatch(/--flush-timeout/);
    });
  });

  describe('dpkg in a scratch root: install, upgrade under a running agent, remove, purge', () => {
    const dir = join(tmp.path, 'dpkg');
    let sr: ReturnType<typeof scratchRoot>;
    const socket = join(dir, 'diag.sock');
    const config = () => join(sr.path, 'etc/edge-agent/config.json');
    const agentArgs = () => ['run', '--config', config(), '--socket', socket, '--flush-timeout', '1000'];
    let nextDeb = '';
    beforeAll(() => {
      mkdirSync(dir, { recursive: true });
      sr = scratchRoot(dir);
    });

    it('installs: files, the user and group from sysusers (in the scratch root only), the config given to the group', async () => {
      // --force-depends: the scratch root has no libc6 or systemd registered with its dpkg.
      const r = await sr.dpkg(['--force-depends', '--install', DEB.amd64]);
      expect(r.stdout).toMatch(/Setting up edge-agent \(/);
      expect(r.stdout).toMatch(/edit \/etc\/edge-agent\/config\.json, then: systemctl enable --now edge-agent/);
      const user = /^edge-agent:x:(\d+):(\d+):edge-agent service:\/var\/lib\/edge-agent:\/usr\/sbin\/nologin$/m.exec(readFileSync(join(sr.path, 'etc/passwd'), 'utf8'));
      expect(user).not.toBeNull();
      expect(readFileSync(join(sr.path, 'etc/group'), 'utf8')).toMatch(/^dialout:x:20:edge-agent$/m);
      expect(statSync(join(sr.path, 'etc/edge-agent/config.json')).gid).toBe(Number(user![2]));
      expect(statSync(join(sr.path, 'etc/edge-agent')).mode & 0o777).toBe(0o750);
      // A first install starts nothing: the config needs the device's connection string first.
      expect(sr.systemctlCalls()).toEqual(['systemctl --system daemon-reload']);
      expect(run(join(sr.path, 'usr/bin/edge-agent'), ['--version']).stdout.trim()).toBe(VERSION);
      // The installed unit is valid against the installed binary.
      const unit = join(dir, 'edge-agent.service');
      writeFileSync(unit, readFileSync(join(sr.path, 'lib/systemd/system/edge-agent.service'), 'utf8').replace(/^ExecStart=\/usr\/bin\/edge-agent/m, `ExecStart=${join(sr.path, 'usr/bin/edge-agent')}`));
      const verify = run('systemd-analyze', ['verify', unit]);
      expect(`${verify.stdout}${verify.stderr}`).toBe('');
    });

    it('an upgrade restarts the running agent onto the new binary, and the buffer it had is there after', async () => {
      // The operator's config (a conffile they changed): readings stay buffered, nothing listens for the hub.
      writeAgentConfig(config(), join(sr.path, 'var/lib/edge-agent'), { synthetic: true });
      const old = await startAgent(join(sr.path, 'usr/bin/edge-agent'), agentArgs(), dir);
      sr.setServicePid(old.pid);
      let before: StatusReport;
      try {
        before = await untilStatus(socket, (s) => s.buffer.unsentRecords + s.buffer.journalBacklog >= 10, 30_000, 'ten readings buffered');
      } catch (err) {
        old.stop();
        throw err;
      }
      // The newer package: the same files, a higher version (dpkg-deb rebuilds it, uncompressed for speed).
      const next = `${DEB_VERSION}+upgrade1`;
      const tree = join(dir, 'next');
      execFileSync('dpkg-deb', ['-R', DEB.amd64, tree], childLimit());
      const controlFile = join(tree, 'DEBIAN/control');
      writeFileSync(controlFile, readFileSync(controlFile, 'utf8').replace(/^Version: .*$/m, `Version: ${next}`));
      nextDeb = join(dir, `edge-agent_${next}_amd64.deb`);
      execFileSync('dpkg-deb', ['--root-owner-group', '-Znone', '--build', tree, nextDeb], { ...childLimit(), stdio: 'ignore' });

      const upgrade = await sr.dpkg(['--force-depends', '--install', nextDeb]);
      expect(upgrade.stdout).toMatch(new RegExp(`Unpacking edge-agent \\(${next.replace(/[.+]/g, '\\$&')}\\) over \\(${DEB_VERSION.replace(/[.+]/g, '\\$&')}\\)`));
      // The old process ran through the unpack (its binary replaced under it, not written into)
      // and was stopped by the postinst's restart, after the new files were in place.
      const calls = sr.systemctlCalls().slice(1);
      expect(calls[0]).toBe('systemctl --system daemon-reload');
      expect(calls[1]).toBe('systemctl try-restart edge-agent.service');
      expect(calls[2]).toBe(`exe ${join(sr.path, 'usr/lib/edge-agent/edge-agent')} (deleted)`);
      expect(await old.exited, old.output()).toBe(0);
      expect(old.output()).toMatch(/"msg":"edge-agent stopped"/);
      // No question about the conffile: the operator's version stays.
      expect(readFileSync(config(), 'utf8')).toMatch(/"synthetic"/);
      expect(run('dpkg', [`--root=${sr.path}`, '--status', 'edge-agent']).stdout).toMatch(new RegExp(`^Version: ${next.replace(/[.+]/g, '\\$&')}$`, 'm'));

      // systemd's start half: the new binary on the same buffer.
      const fresh = await startAgent(join(sr.path, 'usr/bin/edge-agent'), agentArgs(), dir);
      try {
        const after = await untilStatus(socket, () => true, 30_000, 'a status from the restarted agent');
        expect(after.pid).toBe(fresh.pid);
        expect(after.buffer.nextSeq).toBeGreaterThan(before!.buffer.nextSeq);
        expect(after.buffer.unsentRecords + after.buffer.journalBacklog).toBeGreaterThanOrEqual(before!.buffer.unsentRecords + before!.buffer.journalBacklog);
      } finally {
        fresh.stop();
      }
      expect(await fresh.exited, fresh.output()).toBe(0);
    }, 90_000);

    it('where policy-rc.d forbids it (a container, an image build), an upgrade restarts nothing', async () => {
      const policy = join(sr.path, 'usr/sbin/policy-rc.d');
      writeFileSync(policy, '#!/bin/sh\nexit 101\n', { mode: 0o755 });
      try {
        const n = sr.systemctlCalls().length;
        // A reinstall of the same version is an upgrade to the maintainer scripts (configure <old>).
        const r = await sr.dpkg(['--force-depends', '--install', nextDeb]);
        expect(r.stderr).toMatch(/policy-rc\.d returned 101, not running 'try-restart edge-agent\.service'/);
        expect(sr.systemctlCalls().slice(n)).toEqual(['systemctl --system daemon-reload']);
      } finally {
        rmSync(policy);
      }
    });

    it('remove stops the service and keeps the buffer; purge takes config and buffer away', async () => {
      const agent = await startAgent(join(sr.path, 'usr/bin/edge-agent'), agentArgs(), dir);
      sr.setServicePid(agent.pid);
      const n = sr.systemctlCalls().length;
      await sr.dpkg(['--force-depends', '--remove', 'edge-agent']);
      expect(sr.systemctlCalls().slice(n, n + 2)).toEqual(['systemctl stop edge-agent.service', `exe ${join(sr.path, 'usr/lib/edge-agent/edge-agent')}`]);
      expect(await agent.exited, agent.output()).toBe(0);
      expect(existsSync(join(sr.path, 'usr/lib/edge-agent/edge-agent'))).toBe(false);
      expect(existsSync(join(sr.path, 'var/lib/edge-agent/buffer/CURRENT'))).toBe(true);
      expect(existsSync(config())).toBe(true);
      await sr.dpkg(['--purge', 'edge-agent']);
      expect(existsSync(join(sr.path, 'var/lib/edge-agent'))).toBe(false);
      expect(existsSync(join(sr.path, 'etc/edge-agent'))).toBe(false);
    }, 60_000);
  });

  describe('the arm64 .deb, unpacked, its binary under qemu-aarch64-static', () => {
    const dir = join(tmp.path, 'arm64');
    const lib = () => join(unpack(DEB.arm64, join(tmp.path, 'deb-arm64')).root, 'usr/lib/edge-agent');

    it('prints the package version, with no node_modules around it', () => {
      expect(noNodeModulesAround(lib())).toBe(true);
      const version = run(...underQemu(join(lib(), 'edge-agent'), ['--version']));
      expect(version.error).toBeUndefined();
      expect(version.stderr).toBe('');
      expect(version.status).toBe(0);
      expect(version.stdout.trim()).toBe(VERSION);
    });

    it('runs the agent: LevelDB through the arm64 addon in native/, `config` asked by the arm64 binary, SIGTERM stops it', async () => {
      mkdirSync(dir, { recursive: true });
      const config = join(dir, 'config.json');
      const socket = join(dir, 'd.sock');
      writeAgentConfig(config, join(dir, 'data'), { synthetic: true });
      const agent = await startAgent(...underQemu(join(lib(), 'edge-agent'), ['run', '--config', config, '--socket', socket, '--flush-timeout', '1000']), dir);
      try {
        const shown = await execFileLimited(...underQemu(join(lib(), 'edge-agent'), ['config', '--json', '--socket', socket]), { env: bareEnv(), timeout: 60_000 });
        const c = JSON.parse(shown.stdout) as { file: string; effective: { drivers: Array<{ type: string }> }; sources: Record<string, string> };
        expect(c.file).toBe(config);
        expect(c.effective.drivers.map((d) => d.type)).toEqual(['synthetic']);
        expect(c.sources['dataDir']).toBe('file');
        // Asked from the x64 executable: the socket speaks the same protocol whatever the CPU.
        await untilStatus(socket, (s) => s.readings > 0, 60_000, 'a reading under qemu');
        const buffer = run(join(OUT, 'linux-x64/edge-agent'), ['buffer', '--socket', socket]);
        expect(buffer.status, buffer.stderr).toBe(0);
        expect(buffer.stdout).toMatch(/^next seq +\d+$/m);
        expect(existsSync(join(dir, 'data/buffer/CURRENT'))).toBe(true);
      } finally {
        agent.stop();
      }
      expect(await agent.exited, agent.output()).toBe(0);
      expect(agent.output()).toMatch(/"msg":"edge-agent stopped"/);
      // The arm64 addon can only have come from native/: there is no node_modules anywhere
      // around (checked above), and the x64 test shows the same binary fails without native/.
    }, 120_000);
  });

  describe('scripts/install.sh (no dpkg)', () => {
    const staged = join(tmp.path, 'install-root');
    const install = () => run('sh', [join(ROOT, 'scripts/install.sh'), '--from', join(OUT, 'linux-x64')], { env: { ...bareEnv(), DESTDIR: staged } });

    it('lays down the same files as the .deb, and keeps an existing config', () => {
      const r = install();
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/staged into .* \(no user created, systemd not told: DESTDIR install\)/);
      const { root } = unpack(DEB.amd64, join(tmp.path, 'deb-amd64'));
      expect(files(staged)).toEqual(files(root).filter((f) => !f.startsWith('usr/share/')));
      expect(statSync(join(staged, 'etc/edge-agent/config.json')).mode & 0o777).toBe(0o640);
      expect(run(join(staged, 'usr/bin/edge-agent'), ['--version']).stdout.trim()).toBe(VERSION);
      writeFileSync(join(staged, 'etc/edge-agent/config.json'), '{"mine":true}');
      expect(install().stdout).toMatch(/keeping the existing/);
      expect(readFileSync(join(staged, 'etc/edge-agent/config.json'), 'utf8')).toBe('{"mine":true}');
    });

    it('over a running agent: each file renamed into place (no "Text file busy"), the agent untouched', async () => {
      const work = join(tmp.path, 'install-run');
      mkdirSync(work, { recursive: true });
      const config = join(work, 'config.json');
      const socket = join(work, 'd.sock');
      writeAgentConfig(config, join(work, 'data'));
      const exe = join(staged, 'usr/lib/edge-agent/edge-agent');
      const agent = await startAgent(exe, ['run', '--config', config, '--socket', socket], work);
      try {
        const inode = statSync(exe).ino;
        const r = install();
        expect(r.stderr).not.toMatch(/Text file busy/);
        expect(r.status, r.stderr).toBe(0);
        expect(statSync(exe).ino).not.toBe(inode);
        expect(readlinkSync(`/proc/${agent.pid}/exe`)).toBe(`${exe} (deleted)`);
        expect(files(staged).filter((f) => f.includes('install-new'))).toEqual([]);
        // Still serving, from the old inode.
        const status = run(exe, ['status', '--json', '--socket', socket]);
        expect(status.status, status.stderr).toBe(0);
        expect((JSON.parse(status.stdout) as StatusReport).pid).toBe(agent.pid);
      } finally {
        agent.stop();
      }
      expect(await agent.exited, agent.output()).toBe(0);
    }, 60_000);
  });

  // Last: lintian has been running since the build, while the tests above went on.
  it('lintian: no error or warning is left but the overridden ones, each explained in the package', async () => {
    const results = await lintian!;
    const overrides = readFileSync(join(ROOT, 'scripts/debian/lintian-overrides'), 'utf8');
    for (const r of results) {
      const tags = `${r.stdout}${r.stderr}`.split('\n').filter((l) => /^[EWI]: /.test(l));
      expect(tags.filter((l) => /^[EW]: /.test(l)), r.arch).toEqual([]);
      // An override that matched nothing would be an explanation of nothing.
      expect(tags.filter((l) => /unused-override|mismatched-override|malformed-override/.test(l)), r.arch).toEqual([]);
    }
    // The check is real: a package without copyright, changelog or md5sums is not clean.
    const bare = join(tmp.path, 'lintian-bare');
    mkdirSync(join(bare, 'DEBIAN'), { recursive: true });
    mkdirSync(join(bare, 'usr/share/edge-agent-bare'), { recursive: true });
    writeFileSync(join(bare, 'usr/share/edge-agent-bare/note'), 'x\n');
    writeFileSync(join(bare, 'DEBIAN/control'), 'Package: edge-agent-bare\nVersion: 1.0-1\nArchitecture: all\nMaintainer: a <a@b.example>\nDescription: package lintian must find fault with\n It lacks a copyright file and a changelog.\n');
    execFileSync('dpkg-deb', ['--root-owner-group', '--build', bare, `${bare}.deb`], { ...childLimit(), stdio: 'ignore' });
    const faulty = await execFileLimited('lintian', ['--fail-on', 'none', `${bare}.deb`], { timeout: 120_000 });
    expect(faulty.stdout).toMatch(/^E: edge-agent-bare: no-copyright-file$/m);
    expect(faulty.stdout).toMatch(/^E: edge-agent-bare: no-changelog /m);
    // Each override comes after a comment that says why.
    const groups = overrides.trimEnd().split(/(?<=^edge-agent: .*)\n(?=# )/m);
    expect(groups.length).toBeGreaterThan(5);
    for (const g of groups) expect(g, g).toMatch(/^(# .+\n)+(edge-agent: .+(\n|$))+$/);
  }, 180_000);
});
