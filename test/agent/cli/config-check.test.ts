import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../../support/cli.js';
import { tempDir } from '../../support/tmp.js';

const EX_CONFIG = 78;

describe('edge-agent config check (the real CLI, offline)', () => {
  const cleanups: Array<() => void> = [];
  afterEach(() => {
    for (const c of cleanups.splice(0).reverse()) c();
  });
  const write = (name: string, doc: unknown): string => {
    const dir = tempDir('config-check');
    cleanups.push(dir.cleanup);
    const path = join(dir.path, name);
    writeFileSync(path, JSON.stringify(doc));
    return path;
  };

  it('a good config file exits 0; a bad one exits 78 with every problem and its path', async () => {
    const good = await runCli(['config', 'check', 'config/example.json']);
    expect(good.code).toBe(0);
    expect(good.stdout).toBe('valid: config file config/example.json\n');
    const bad = write('bad.json', { hub: { connectionString: 'HostName=h;DeviceId=d;SharedAccessKey=a2V5' }, dataDir: '/x', forwarding: { retryInitialMs: 60_000, retryMaxMs: 1000 }, log: { level: 'loud' }, colour: 1 });
    const run = await runCli(['config', 'check', bad]);
    expect(run.code).toBe(EX_CONFIG);
    const lines = run.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe(`not valid: config file ${bad}, 3 problems:`);
    expect(lines.slice(1).map((l) => l.trim().split(':')[0])).toEqual(['forwarding.retryInitialMs', 'log.level', '(root)']);
    expect(run.stderr).toBe('');
  });

  it('--desired judges a twin document as the agent would, over the file or the defaults; --json for scripts', async () => {
    const desired = write('desired.json', {
      $version: 12,
      hub: { connectionString: 'x' },
      drivers: [{ type: 'modbus', name: 'plc', devices: [{ name: 'd', transport: { kind: 'tcp', host: 'h' }, unitId: 1, points: [{ name: 'p', table: 'holdings', address: 0 }] }] }],
      forwarding: { lingerMs: null, retryInitialMs: 70_000 },
    });
    const run = await runCli(['config', 'check', '--desired', desired, '--json']);
    expect(run.code).toBe(EX_CONFIG);
    const out = JSON.parse(run.stdout) as { valid: boolean; subject: string; problems: Array<{ path: string; message: string }> };
    expect(out.valid).toBe(false);
    expect(out.subject).toMatch(/laid over the defaults/);
    expect(out.problems.map((p) => p.path).sort()).toEqual(['drivers.0', 'forwarding.retryInitialMs', 'hub']);
    expect(out.problems.find((p) => p.path === 'drivers.0')!.message).toMatch(/"holdings"/);

    // The same document fixed is valid; laid over a file whose retryMaxMs is lower, it is not.
    const fixed = write('fixed.json', { $version: 13, $metadata: { $lastUpdated: '2026-12-01T00:00:00Z' }, forwarding: { lingerMs: null, retryInitialMs: 30_000 } });
    const ok = await runCli(['config', 'check', '--desired', fixed]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toBe(`valid: desired document ${fixed} (laid over the defaults)\n`);
    const file = write('file.json', { hub: { connectionString: 'HostName=h;DeviceId=d;SharedAccessKey=a2V5' }, dataDir: '/x', forwarding: { retryInitialMs: 100, retryMaxMs: 10_000 } });
    const over = await runCli(['config', 'check', file, '--desired', fixed]);
    expect(over.code).toBe(EX_CONFIG);
    expect(over.stdout).toMatch(new RegExp(`^not valid: desired document ${fixed} \\(laid over ${file}\\), 1 problem:\\n  forwarding.retryInitialMs: retryInitialMs must not exceed retryMaxMs`));
  });

  it('with nothing to check it is a usage error', async () => {
    const run = await runCli(['config', 'check']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/needs a config file, a --desired document, or both/);
  });
});
