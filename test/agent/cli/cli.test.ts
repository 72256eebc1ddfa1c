import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../../support/cli.js';
import { tempDir } from '../../support/tmp.js';
import { runCliAs, unprivileged } from '../../support/unprivileged.js';

/** A one-line message that names the problem, and no stack trace. */
function expectCleanError(stderr: string, pattern: RegExp): void {
  expect(stderr).toMatch(pattern);
  expect(stderr).not.toMatch(/\n\s+at .+:\d+:\d+/);
}

describe('edge-agent CLI: faces and bad input', () => {
  const cleanups: Array<() => void | Promise<void>> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it('--help lists the commands and --version prints the package version', async () => {
    const help = await runCli(['--help']);
    expect(help.code).toBe(0);
    for (const cmd of ['run', 'demo', 'hub', 'replay', 'modbus', 'cloud']) expect(help.stdout).toMatch(new RegExp(`^\\s+${cmd}\\b`, 'm'));
    const version = await runCli(['--version']);
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('an unknown command exits 2 with a hint', async () => {
    const run = await runCli(['frobnicate']);
    expect(run.code).toBe(2);
    expectCleanError(run.stderr, /unknown command 'frobnicate'/);
  });

  it('a missing config file is named', async () => {
    const run = await runCli(['run', '--config', '/nonexistent/edge.json']);
    expect(run.code).toBe(78);
    expectCleanError(run.stderr, /config file \/nonexistent\/edge\.json does not exist .*\[EDGE_CONFIG_NOT_FOUND\]/);
  });

  it('an invalid config names each bad field', async () => {
    const dir = tempDir('cli-config');
    cleanups.push(dir.cleanup);
    const file = join(dir.path, 'config.json');
    writeFileSync(file, JSON.stringify({ hub: { connectionString: 'x' }, dataDir: dir.path, forwarding: { maxInFlight: 0 }, typo: 1 }));
    const run = await runCli(['run', '--config', file]);
    expect(run.code).toBe(78);
    expectCleanError(run.stderr, /forwarding\.maxInFlight/);
    expect(run.stderr).toMatch(/typo/);
    expect(run.stderr).toMatch(/EDGE_CONFIG_INVALID/);
  });

  it('an unusable data directory is named', async () => {
    const dir = tempDir('cli-datadir');
    cleanups.push(dir.cleanup);
    const notADir = join(dir.path, 'file');
    writeFileSync(notADir, 'x');
    const file = join(dir.path, 'config.json');
    writeFileSync(file, JSON.stringify({ hub: { connectionString: 'HostName=localhost:1;DeviceId=d;SharedAccessKey=a2V5' }, dataDir: notADir }));
    const run = await runCli(['run', '--config', file]);
    expect(run.code).toBe(1);
    expectCleanError(run.stderr, new RegExp(`data directory ${notADir} is not usable.*EDGE_DATA_DIR_UNUSABLE`));
  });

  it('an unreadable data directory is named (as a user without rights)', async () => {
    const dir = tempDir('cli-unreadable');
    cleanups.push(dir.cleanup);
    const locked = join(dir.path, 'locked');
    mkdirSync(locked);
    chmodSync(locked, 0o000);
    cleanups.push(() => chmodSync(locked, 0o700));
    const dataDir = join(locked, 'data');
    const file = join(dir.path, 'config.json');
    writeFileSync(file, JSON.stringify({ hub: { connectionString: 'HostName=localhost:1;DeviceId=d;SharedAccessKey=a2V5' }, dataDir }));
    const how = unprivileged();
    if (!how.ok) {
      // Root passes every file mode: without a way to shed that, there is no user without rights to be.
      expect(how.reason).toMatch(/^root cannot drop CAP_DAC_OVERRIDE here/);
      return;
    }
    const run = await runCliAs(how, ['run', '--config', file]);
    expect(run.code, how.how).toBe(1);
    expectCleanError(run.stderr, new RegExp(`data directory ${dataDir} is not usable: EACCES.*EDGE_DATA_DIR_UNUSABLE`));
  });

  it('a data directory on a kernel pseudo filesystem is refused at once', async () => {
    const dir = tempDir('cli-proc');
    cleanups.push(dir.cleanup);
    const file = join(dir.path, 'config.json');
    const dataDir = '/proc/edge-agent-test/data';
    writeFileSync(file, JSON.stringify({ hub: { connectionString: 'HostName=localhost:1;DeviceId=d;SharedAccessKey=a2V5' }, dataDir }));
    // Node 20's recursive mkdir spun forever here, with the event loop blocked (SIGTERM unheard).
    const run = await runCli(['run', '--config', file]);
    expect(run.code).toBe(1);
    expectCleanError(run.stderr, new RegExp(`data directory ${dataDir} is not usable: /proc is on a proc pseudo filesystem.*EDGE_DATA_DIR_UNUSABLE`));
  });

  it('a port already in use is named', async () => {
    const server: Server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const port = (server.address() as { port: number }).port;
    const dir = tempDir('cli-port');
    cleanups.push(dir.cleanup);
    const run = await runCli(['demo', '--duration', '1s', '--hub-port', String(port), '--data-dir', dir.path]);
    expect(run.code).toBe(1);
    expectCleanError(run.stderr, new RegExp(`${port}.*(in use|EDGE_PORT_IN_USE)`));
  });
});
