import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseDuration } from '../../../agent/cli/duration.js';
import { ROOT, runCli } from '../../support/cli.js';

/** Every `EDGE_…` variable the agent's code reads (`env.EDGE_X`, `process.env.EDGE_X`). */
function edgeVariablesRead(): string[] {
  const names = new Set<string>();
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, e.name);
      if (e.isDirectory()) walk(path);
      else if (e.name.endsWith('.ts')) for (const m of readFileSync(path, 'utf8').matchAll(/\benv\.(EDGE_[A-Z_]+)/g)) names.add(m[1]!);
    }
  };
  for (const dir of ['agent', 'cloud', 'drivers']) walk(join(ROOT, dir));
  // The systemd-notify command's path: a seam for tests, not an operator's setting.
  names.delete('EDGE_AGENT_SYSTEMD_NOTIFY');
  return [...names].sort();
}

describe('--help: environment, examples, consistent flags', () => {
  it('the top help lists every EDGE_ variable the code reads, and the duration syntax', async () => {
    const help = await runCli(['--help']);
    expect(help.code).toBe(0);
    const vars = edgeVariablesRead();
    expect(vars).toEqual(expect.arrayContaining(['EDGE_AGENT_SOCKET', 'EDGE_LOG_LEVEL']));
    for (const v of vars) expect(help.stdout, v).toMatch(new RegExp(`^  ${v}\\s+\\S`, 'm'));
    expect(help.stdout).toMatch(/Durations: 500ms, 10s, 5m, 1h \(a bare number is milliseconds\)/);
  });

  it('commands show examples; modbus takes the serial path as --device (--port hidden) and scans at 300 ms; cloud run durations lose their -ms', async () => {
    const [status, scan, logs, cloudRun] = await Promise.all([runCli(['status', '--help']), runCli(['modbus', 'scan', '--help']), runCli(['logs', '--help']), runCli(['cloud', 'run', '--help'])]);
    // Duration flags are named for what they are, not for a unit they no longer require.
    expect(cloudRun.stdout).toMatch(/^\s+--poll <duration>\s/m);
    expect(cloudRun.stdout).toMatch(/^\s+--resend-grace <duration>\s/m);
    expect(cloudRun.stdout).not.toMatch(/-ms\b/);
    expect(status.stdout).toMatch(/^Examples:\n {2}\$ edge-agent status\n/m);
    expect(logs.stdout).toMatch(/\$ edge-agent logs --follow --module transport/);
    expect(scan.stdout).toMatch(/^\s+--device <path>\s/m);
    expect(scan.stdout).not.toMatch(/^\s+--port\b/m);
    expect(scan.stdout).toMatch(/--timeout <duration>\s+reply timeout per request \(default 300ms/);
    expect(scan.stdout).toMatch(/\$ edge-agent modbus scan --device \/dev\/ttyUSB0/);
  });
});

describe('duration flags', () => {
  it('take 500ms/10s/5m/1h, and a bare number as milliseconds', () => {
    expect([parseDuration('500ms'), parseDuration('10s'), parseDuration('5m'), parseDuration('1h'), parseDuration('250'), parseDuration('1.5s'), parseDuration('0')]).toEqual([500, 10_000, 300_000, 3_600_000, 250, 1500, 0]);
    expect(() => parseDuration('10x', '--timeout')).toThrow(/--timeout '10x' is not a duration \(examples: 500ms, 10s, 5m, 1h; a bare number is milliseconds\)/);
    expect(() => parseDuration('50ms', '--interval', { min: 100 })).toThrow(/--interval '50ms' must be at least 100 ms/);
  });

  it('on the command line: run --flush-timeout 10s is taken (the error is the missing config), bad values are usage errors', async () => {
    const [run, badRun, sendTest, sensors] = await Promise.all([
      runCli(['run', '--flush-timeout', '10s', '--config', '/nonexistent/edge.json']),
      runCli(['run', '--flush-timeout', 'soon', '--config', '/nonexistent/edge.json']),
      runCli(['send-test', '--timeout', '11m', '--socket', '/nonexistent.sock']),
      runCli(['sensors', '--interval', '50ms', '--socket', '/nonexistent.sock']),
    ]);
    expect(run.stderr).toMatch(/nonexistent\/edge\.json/);
    expect(run.stderr).not.toMatch(/flush-timeout/);
    expect([badRun.code, sendTest.code, sensors.code]).toEqual([2, 2, 2]);
    expect(badRun.stderr).toMatch(/--flush-timeout 'soon' is not a duration/);
    expect(sendTest.stderr).toMatch(/--timeout '11m' must be between 1 ms and 600000 ms/);
    expect(sensors.stderr).toMatch(/--interval '50ms' must be at least 100 ms/);
  });
});
