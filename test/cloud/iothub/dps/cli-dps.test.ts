import { afterEach, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { finished, runCli, spawnCli, untilOutput } from '../../../support/cli.js';
import { tempDir } from '../../../support/tmp.js';
import { registerWithDps } from '../../../../agent/transport/provisioning/dps-register.js';
import { deriveDeviceKey } from '../../../../cloud/iothub/dps/index.js';

const cli = (args: string[]) => runCli(['hub', 'dps', ...args]);
const realTimer = (fn: () => void, ms: number): (() => void) => {
  const t = setTimeout(fn, ms);
  return () => clearTimeout(t);
};

describe('edge-agent hub dps (CLI)', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it('enrolls a device and a group on the files, runs DPS with two hubs, and lists the registrations', async () => {
    const dir = tempDir('dps-cli');
    cleanups.push(dir.cleanup);
    const enrolled = await cli(['enroll', 'gw-cli', '--data-dir', dir.path]);
    expect(enrolled).toMatchObject({ code: 0, stderr: '' });
    const key = enrolled.stdout.trim();
    expect(Buffer.from(key, 'base64')).toHaveLength(32);
    const group = await cli(['enroll-group', 'line-4', '--data-dir', dir.path]);
    const groupKey = group.stdout.trim();
    expect(Buffer.from(groupKey, 'base64')).toHaveLength(64);
    expect((await cli(['derive-key', groupKey, 'gw-member'])).stdout.trim()).toBe(deriveDeviceKey(groupKey, 'gw-member'));
    const listed = await cli(['enrollments', '--data-dir', dir.path]);
    expect(listed.stdout).toBe('individual\tgw-cli\tsymmetricKey\ngroup\tline-4\tsymmetricKey\n');
    expect(listed.stdout).not.toContain(key);

    const child = spawnCli(['hub', 'dps', 'start', '--data-dir', dir.path, '--hubs', '2']);
    const exited = finished(child);
    cleanups.push(async () => {
      child.kill('SIGTERM');
      await exited;
    });
    const banner = await untilOutput(child.stdout, /\(Ctrl-C stops\)/);
    const endpoint = /globalEndpoint (\S+), idScope (\S+), CA (\S+)/.exec(banner)!;
    const hubs = [...banner.matchAll(/hub-\d: devices mqtts:\/\/(\S+),/g)].map((m) => m[1]);
    expect(hubs).toHaveLength(2);
    const ca = readFileSync(endpoint[3]!, 'utf8');
    const a = await registerWithDps({ globalEndpoint: endpoint[1]!, idScope: endpoint[2]!, registrationId: 'gw-cli', credentials: { symmetricKey: key }, ca, timeoutMs: 20_000 }, realTimer);
    const b = await registerWithDps({ globalEndpoint: endpoint[1]!, idScope: endpoint[2]!, registrationId: 'gw-member', credentials: { symmetricKey: deriveDeviceKey(groupKey, 'gw-member') }, ca, timeoutMs: 20_000 }, realTimer);
    expect([a.assignedHub, b.assignedHub]).toEqual(hubs);

    const regs = await cli(['registrations', '--data-dir', dir.path, '--json']);
    const rows = regs.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(rows).toMatchObject([
      { registrationId: 'gw-cli', assignedHub: hubs[0], enrollment: 'individual:gw-cli', count: 1 },
      { registrationId: 'gw-member', assignedHub: hubs[1], enrollment: 'group:line-4', count: 1 },
    ]);
    // The hubs are ordinary hub data dirs: the device DPS created is in the second one's registry.
    expect(readFileSync(join(dir.path, 'hub-1', 'registry.json'), 'utf8')).toContain(deriveDeviceKey(groupKey, 'gw-member'));
    child.kill('SIGTERM');
    expect((await exited).stdout).toContain('DPS and hubs stopped');
  }, 60_000);
});
