import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { childLimit } from '../support/child.js';
import { ROOT } from '../support/cli.js';

const UNIT = readFileSync(join(ROOT, 'config/edge-agent.service'), 'utf8');
const dir = mkdtempSync(join(tmpdir(), 'edge-unit-'));

/**
 * `systemd-analyze verify` checks ExecStart's binary exists on this machine; the package tests
 * verify the unit against the installed binary, this one against node (any executable will do).
 */
function verify(text: string): { status: number | null; out: string } {
  const file = join(dir, 'edge-agent.service');
  writeFileSync(file, text.replace(/^ExecStart=\/usr\/bin\/edge-agent/m, `ExecStart=${process.execPath}`));
  const r = spawnSync('systemd-analyze', ['verify', file], { encoding: 'utf8', ...childLimit() });
  if (r.error) throw new Error(`systemd-analyze is needed (apt-get install systemd): ${r.error.message}`);
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

/** `systemd-analyze security` offline on the unit: the overall exposure (0 best … 10) and whether it is within 2.0. */
function security(text: string): { exposure: number; withinThreshold: boolean; out: string } {
  const file = join(dir, 'edge-agent.service');
  writeFileSync(file, text.replace(/^ExecStart=\/usr\/bin\/edge-agent/m, `ExecStart=${process.execPath}`));
  // --threshold is in tenths: 20 = 2.0; above it the command exits 1.
  const r = spawnSync('systemd-analyze', ['security', '--offline=true', '--threshold=20', '--no-pager', file], { encoding: 'utf8', ...childLimit() });
  if (r.error) throw new Error(`systemd-analyze is needed (apt-get install systemd): ${r.error.message}`);
  const out = `${r.stdout}${r.stderr}`;
  const m = /Overall exposure level for edge-agent\.service: (\d+\.\d+)/.exec(out);
  if (!m) throw new Error(`no overall exposure in systemd-analyze security's output:\n${out}`);
  return { exposure: Number(m[1]), withinThreshold: r.status === 0, out };
}

function directive(name: string): string[] {
  return [...UNIT.matchAll(new RegExp(`^${name}=(.*)$`, 'gm'))].map((m) => m[1]!);
}

describe('config/edge-agent.service', () => {
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('passes systemd-analyze verify without a single complaint', () => {
    const r = verify(UNIT);
    expect(r.out).toBe('');
    expect(r.status).toBe(0);
  });

  it('the check is real: a broken unit is reported', () => {
    expect(verify(UNIT.replace('Type=notify', 'Type=notifyy')).out).toMatch(/Failed to parse service type/);
    expect(verify(UNIT.replace('ExecStart=/usr/bin/edge-agent', 'ExecStart=/nonexistent/edge-agent')).out).toMatch(/not executable/);
    expect(verify(UNIT.replace('ProtectSystem=strict', 'ProtectSystem=stricter')).out).toMatch(/stricter/);
  });

  it('is a notify service with a watchdog, a dedicated user with dialout, its three directories and hardening', () => {
    expect(directive('Type')).toEqual(['notify']);
    expect(directive('NotifyAccess')).toEqual(['all']); // systemd-notify is a child process
    expect(Number(directive('WatchdogSec')[0])).toBeGreaterThan(0);
    expect(directive('User')).toEqual(['edge-agent']);
    expect(directive('SupplementaryGroups')).toEqual(['dialout']);
    expect(directive('StateDirectory')).toEqual(['edge-agent']);
    expect(directive('ConfigurationDirectory')).toEqual(['edge-agent']);
    expect(directive('RuntimeDirectory')).toEqual(['edge-agent']);
    expect(directive('ProtectSystem')).toEqual(['strict']);
    expect(directive('NoNewPrivileges')).toEqual(['yes']);
    expect(directive('Restart')).toEqual(['always']);
    expect(directive('StartLimitIntervalSec')).toEqual(['0']);
    // V8's JIT needs W+X pages: this one must stay off.
    expect(directive('MemoryDenyWriteExecute')).toEqual([]);
  });

  it('systemd-analyze security rates its exposure at most 2.0, and a unit without the hardening far above', () => {
    const r = security(UNIT);
    expect(r.exposure, r.out).toBeLessThanOrEqual(2.0);
    expect(r.withinThreshold, r.out).toBe(true);
    const bare = security(UNIT.slice(0, UNIT.indexOf('# Hardening.')));
    expect(bare.exposure).toBeGreaterThan(2.0);
    expect(bare.withinThreshold).toBe(false);
  });

  it('a refused config (exit 78, EX_CONFIG) stops the restarts; any other exit restarts', () => {
    expect(directive('RestartPreventExitStatus')).toEqual(['78']);
    expect(directive('Restart')).toEqual(['always']);
    // systemd takes it as an exit status, not a signal name: verify reports a misspelt one.
    expect(verify(UNIT.replace('RestartPreventExitStatus=78', 'RestartPreventExitStatus=SIGNOPE')).out).toMatch(/RestartPreventExitStatus|SIGNOPE/);
  });

  it('TimeoutStopSec covers the flush timeout, a held send and closing', () => {
    const flushMs = Number(/--flush-timeout (\d+)/.exec(directive('ExecStart')[0]!)![1]);
    const sendTimeoutMs = 30_000; // forwarding.sendTimeoutMs default
    expect(Number(directive('TimeoutStopSec')[0]) * 1000).toBeGreaterThanOrEqual(flushMs + sendTimeoutMs + 2000 + 5000);
  });
});
