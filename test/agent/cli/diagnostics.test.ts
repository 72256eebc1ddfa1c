import { chmodSync, statSync, existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { finished, runCli, spawnCli, untilOutput } from '../../support/cli.js';
import { recordsOf } from '../../support/hub.js';
import { tempDir } from '../../support/tmp.js';
import { runCliAs, unprivileged } from '../../support/unprivileged.js';
import { startCliAgent, type RunningCliAgent } from '../diagnostics/running-agent.js';

function expectCleanError(stderr: string, pattern: RegExp): void {
  expect(stderr).toMatch(pattern);
  expect(stderr).not.toMatch(/\n\s+at .+:\d+:\d+/);
}

describe('diagnostics CLI against a running agent (edge-agent run + local IoT Hub)', () => {
  let a: RunningCliAgent;
  const diag = (args: string[]) => runCli([...args, '--socket', a.socketPath]);

  beforeAll(async () => {
    a = await startCliAgent({ deviceId: 'diag-gw' });
  });
  afterAll(async () => {
    await a?.cleanup();
  });

  it('send-test goes through the pipeline and is acknowledged by the hub', async () => {
    const run = await diag(['send-test', '--timeout', '20000']);
    expect(run.stderr).toBe('');
    expect(run.stdout).toMatch(/^delivered: the hub acknowledged the test reading in /);
    expect(run.code).toBe(0);
    const records = await recordsOf(a.hub, 'diag-gw');
    expect(records.some((r) => (r as { src?: string; p?: string }).src === 'edge-agent')).toBe(true);
  });

  it('status: one screen with connection, drivers, buffer and alarms; --json for scripts', async () => {
    const run = await diag(['status']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^edge-agent \d+\.\d+\.\d+ {2}device diag-gw/);
    expect(run.stdout).toMatch(/^connection\s+connected since/m);
    expect(run.stdout).toMatch(/^ {2}sim\s+boiler-1\s+ok\s+\d+\s+0/m);
    expect(run.stdout).toMatch(/^ {2}unsent\s+\d+ records/m);
    expect(run.stdout).toMatch(/^ {2}disk\s+.* of 1\.0 GiB quota/m);
    expect(run.stdout).toMatch(/^alarms\n {2}none/m);
    expect(run.stdout).toMatch(/^event loop\s+delay p99 [\d.]+ ms, max [\d.]+ ms \((since start, [\d.]+ (ms|s)|since start, \d+ min \d+ s|last minute)\)$/m);
    expect(run.stdout.includes('\u001b[')).toBe(false); // not a terminal: no colour
    const json = await diag(['status', '--json']);
    const s = JSON.parse(json.stdout) as { deviceId: string; connection: { state: string }; readings: number; drivers: Record<string, { sources: Record<string, { polls: number }> }>; health: { healthy: boolean }; clock: { sane: boolean }; eventLoop: { p99Ms: number; maxMs: number; overMs: number } };
    expect(s.deviceId).toBe('diag-gw');
    expect(s.connection.state).toBe('connected');
    expect(s.readings).toBeGreaterThan(0);
    expect(s.drivers.sim!.sources['boiler-1']!.polls).toBeGreaterThan(0);
    expect(s.health.healthy).toBe(true);
    expect(s.clock.sane).toBe(true);
    // The agent's own loop, measured since it started (the monitor itself: event-loop.test.ts).
    expect(s.eventLoop.overMs).toBeGreaterThan(0);
    expect(s.eventLoop.maxMs).toBeGreaterThanOrEqual(0);
    expect(s.eventLoop.p99Ms).toBeLessThanOrEqual(s.eventLoop.maxMs);
  });

  it('sensors: every point with value, quality and age; --watch refreshes until Ctrl-C', async () => {
    const run = await diag(['sensors']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^source\s+point\s+value\s+unit\s+quality\s+age/);
    expect(run.stdout).toMatch(/^boiler-1\s+t0\s+-?[\d.]+\s+C\s+good\s+\d+ (ms|s)/m);
    expect(run.stdout).toMatch(/^boiler-1\s+t1\s/m);
    const json = JSON.parse((await diag(['sensors', '--json'])).stdout) as { points: Array<{ source: string; point: string; quality: string; ageMs: number }> };
    const sim = json.points.filter((p) => p.source === 'boiler-1');
    expect(sim.map((p) => p.point)).toEqual(['t0', 't1']);
    expect(sim.every((p) => p.quality === 'good' && p.ageMs < 10_000)).toBe(true);

    const watch = spawnCli(['sensors', '--watch', '--interval', '200', '--socket', a.socketPath]);
    const done = finished(watch);
    await untilOutput(watch.stdout, /source[^]*source[^]*source/);
    watch.kill('SIGINT');
    const end = await done;
    expect(end.code).toBe(0);
  });

  it('buffer: unsent per kind, retained, quota', async () => {
    const run = await diag(['buffer']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/\(sent, kept for resend\)\s+\d+/);
    expect(run.stdout).toMatch(/^disk\s+.* of 1\.0 GiB quota/m);
    const b = JSON.parse((await diag(['buffer', '--json'])).stdout) as { quotaBytes: number; retained: { records: number }; nextSeq: number };
    expect(b.quotaBytes).toBe(1024 ** 3);
    expect(b.retained.records).toBeGreaterThan(0);
    expect(b.nextSeq).toBeGreaterThan(1);
  });

  it('config: the effective values with their origin, secrets hidden', async () => {
    const run = await diag(['config']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(new RegExp(`^config file ${a.configPath}`));
    expect(run.stdout).toMatch(/^hub\.connectionString\s+".*SharedAccessKey=\*\*\*"\s+file$/m);
    expect(run.stdout).toMatch(/^forwarding\.lingerMs\s+20\s+file$/m);
    expect(run.stdout).toMatch(/^forwarding\.maxInFlight\s+4\s+default$/m);
    const c = JSON.parse((await diag(['config', '--json'])).stdout) as { sources: Record<string, string>; effective: { hub: { connectionString: string } } };
    expect(c.sources['dataDir']).toBe('file');
    expect(c.sources['storage.quotaBytes']).toBe('default');
    expect(c.effective.hub.connectionString).not.toMatch(/SharedAccessKey=(?!\*\*\*)/);
  });

  it('twin: the desired $version in force and where the config came from', async () => {
    const t = JSON.parse((await diag(['twin', '--json'])).stdout) as { version?: number; source?: string; enabled?: boolean };
    expect(t.enabled === false || (typeof t.version === 'number' && typeof t.source === 'string')).toBe(true);
  });

  it('logs: a run-time level change per module, recent lines, and --follow', async () => {
    const set = await diag(['logs', '--level', 'debug', '--module', 'forwarder']);
    expect(set.code).toBe(0);
    expect(set.stdout).toMatch(/^log level set to debug for forwarder/);
    expect(set.stdout).toMatch(/^ {2}forwarder\s+debug$/m);
    expect(set.stdout).toMatch(/^ {2}\*\s+info$/m);
    const recent = await diag(['logs', '-n', '20']);
    expect(recent.stdout).toMatch(/WARN {2}log level changed from diagnostics newLevel=debug forModule=forwarder/);
    const follow = spawnCli(['logs', '--follow', '-n', '5', '--json', '--socket', a.socketPath]);
    const done = finished(follow);
    const seen = untilOutput(follow.stdout, /"forModule":"pipeline"/);
    // The recent lines arrive first: the follower is connected.
    await untilOutput(follow.stdout, /"forModule":"forwarder"/);
    await diag(['logs', '--level', 'info', '--module', 'pipeline']);
    await seen;
    follow.kill('SIGINT');
    expect((await done).code).toBe(0);
    await diag(['logs', '--level', 'info']);
  });

  it('logs -n 0 prints nothing; --module keeps one module; an unknown module is refused with the known ones', async () => {
    const none = await diag(['logs', '-n', '0']);
    expect(none.code).toBe(0);
    expect(none.stdout).toBe('');
    const one = await diag(['logs', '-n', '1000', '--json', '--module', 'transport']);
    const modules = one.stdout.trimEnd().split('\n').map((l) => (JSON.parse(l) as { module?: string }).module);
    expect(modules.length).toBeGreaterThan(0);
    expect(new Set(modules)).toEqual(new Set(['transport']));
    for (const args of [['logs', '--module', 'nosuch'], ['logs', '--level', 'debug', '--module', 'driver:synthetic']]) {
      const run = await diag(args);
      expect(run.code).toBe(2);
      expectCleanError(run.stderr, /no module '(nosuch|driver:synthetic)' logs in this agent; known: .*\bdrivers\.synthetic\b.*\btransport\b.* \[EDGE_USAGE\]/);
    }
  });

  it('bad log level: a usage error from the agent, one line', async () => {
    const run = await diag(['logs', '--level', 'loud']);
    expect(run.code).toBe(2);
    expectCleanError(run.stderr, /log level must be one of .* \[EDGE_USAGE\]/);
  });

  it('Prometheus text exposition on loopback', async () => {
    expect(a.metricsPort).toBeGreaterThan(0);
    const res = await fetch(`http://127.0.0.1:${a.metricsPort}/metrics`);
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toMatch(/^edge_agent_readings_accepted_total \d+/m);
    expect(text).toMatch(/^edge_agent_hub_connected 1$/m);
    expect(text).toMatch(/^edge_agent_source_up\{driver="sim",source="boiler-1"\} 1$/m);
    expect(text).toMatch(/^edge_agent_buffer_quota_bytes 1073741824$/m);
  });

  it('the socket is 0660, and a user outside its group gets a clear refusal', async () => {
    expect(statSync(a.socketPath).mode & 0o777).toBe(0o660);
    // A user outside the socket's group meets the same EACCES as anyone at a mode-0 socket, so
    // the refusal is shown there: root without its file-mode rights (or a non-root user).
    const how = unprivileged();
    if (!how.ok) {
      expect(how.reason).toMatch(/^root cannot drop CAP_DAC_OVERRIDE here/);
      return;
    }
    const dir = tempDir('diag-denied');
    const path = join(dir.path, 'd.sock');
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(path, resolve));
    chmodSync(path, 0);
    try {
      const run = await runCliAs(how, ['status', '--socket', path]);
      expect(run.code, how.how).toBe(1);
      expectCleanError(run.stderr, /is not accessible to this user; run as root or as a member of the service's group.*\[EDGE_DIAGNOSTICS_DENIED\]/);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      dir.cleanup();
    }
  });

  it('SIGTERM: the agent stops cleanly and removes its socket', async () => {
    const end = await a.stop();
    expect(end.code).toBe(0);
    expect(end.stdout).toMatch(/"msg":"edge-agent stopped"/);
    expect(existsSync(a.socketPath)).toBe(false);
  });
});

describe('diagnostics CLI without an agent', () => {
  it.each([['status'], ['sensors'], ['buffer'], ['config'], ['twin'], ['logs'], ['send-test']])('%s says the agent is not running, without a stack trace', async (cmd) => {
    const dir = tempDir('diag-none');
    try {
      const run = await runCli([cmd, '--socket', join(dir.path, 'diagnostics.sock')]);
      expect(run.code).toBe(1);
      expect(run.stdout).toBe('');
      expectCleanError(run.stderr, /^edge-agent: the agent is not running \(no diagnostics socket at .*diagnostics\.sock\); check: systemctl status edge-agent \[EDGE_AGENT_NOT_RUNNING\]\n/);
    } finally {
      dir.cleanup();
    }
  });

  it('a stale socket file (agent killed) reads as not running', async () => {
    const dir = tempDir('diag-stale');
    try {
      const path = join(dir.path, 'diagnostics.sock');
      const server = createServer();
      await new Promise<void>((resolve) => server.listen(path, resolve));
      // Close without unlinking, as a SIGKILLed agent leaves it.
      (server as unknown as { _handle: { close: () => void } })._handle.close();
      const run = await runCli(['status', '--socket', path]);
      expect(run.code).toBe(1);
      expectCleanError(run.stderr, /the agent is not running .*\[EDGE_AGENT_NOT_RUNNING\]/);
    } finally {
      dir.cleanup();
    }
  });
});
