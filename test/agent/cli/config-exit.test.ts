import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../../support/cli.js';
import { tempDir } from '../../support/tmp.js';

/** sysexits EX_CONFIG: the unit's RestartPreventExitStatus=78 keeps systemd from restarting it. */
const EX_CONFIG = 78;

describe('edge-agent run with a bad local config (the real CLI)', () => {
  const cleanups: Array<() => void> = [];
  afterEach(() => {
    for (const c of cleanups.splice(0).reverse()) c();
  });

  it('exits 78 and prints the list of problems once, without the raw validation dump', async () => {
    const dir = tempDir('cli-bad-config');
    cleanups.push(dir.cleanup);
    const file = join(dir.path, 'config.json');
    writeFileSync(
      file,
      JSON.stringify({
        hub: { connectionString: 'HostName=h;DeviceId=d;SharedAccessKey=a2V5' },
        dataDir: dir.path,
        forwarding: { maxInFlight: 0, lingerMs: 'soon' },
        drivers: [{ type: 'modbus', devices: [] }],
        typo: 1,
      }),
    );
    const run = await runCli(['run', '--config', file]);
    expect(run.code).toBe(EX_CONFIG);
    const lines = run.stderr.trimEnd().split('\n');
    expect(lines[0]).toBe(`edge-agent: config file ${file} is not a valid configuration:`);
    expect(lines.at(-1)).toMatch(/ \[EDGE_CONFIG_INVALID\]$/);
    const problems = lines.slice(1).map((l) => l.trim().replace(/ \[EDGE_CONFIG_INVALID\]$/, ''));
    expect(problems.map((p) => p.split(':')[0])).toEqual(['forwarding.lingerMs', 'forwarding.maxInFlight', 'drivers.0', '(root)']);
    expect(problems[3]).toMatch(/typo/);
    // Each problem once: no "because:" block repeating them as zod's JSON.
    expect(run.stderr).not.toMatch(/because:|"code":|"path":/);
    expect(run.stderr.match(/maxInFlight/g)).toHaveLength(1);
    expect(lines.length).toBe(5);
    expect(run.stdout).toBe('');
  });

  it('exits 78 for a config file that is not JSON, or is missing', async () => {
    const dir = tempDir('cli-bad-json');
    cleanups.push(dir.cleanup);
    const file = join(dir.path, 'config.json');
    writeFileSync(file, '{ "hub": ');
    const notJson = await runCli(['run', '--config', file]);
    expect(notJson.code).toBe(EX_CONFIG);
    expect(notJson.stderr).toMatch(/is not valid JSON.*\[EDGE_CONFIG_INVALID\]/);
    expect(notJson.stderr.trimEnd().split('\n')).toHaveLength(1);
    const missing = await runCli(['run', '--config', join(dir.path, 'nope.json')]);
    expect(missing.code).toBe(EX_CONFIG);
    expect(missing.stderr).toMatch(/does not exist.*\[EDGE_CONFIG_NOT_FOUND\]/);
  });
});
