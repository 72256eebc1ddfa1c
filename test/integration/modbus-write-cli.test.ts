import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { registerModbus } from '../../agent/cli/commands/modbus.js';
import { reportError } from '../../agent/cli/exit.js';
import type { EventRecord } from '../../agent/core/wire.js';
import { AUDIT_SPOOL } from '../../agent/methods/audit-spool.js';
import { SlaveModel } from '../../drivers/simulators/slave-model.js';
import { TcpSlaveSimulator } from '../../drivers/simulators/tcp-slave.js';
import { startTwinAgent } from '../agent/twin/support.js';
import { runCli } from '../support/cli.js';
import { recordsOf, startHub, untilTelemetry } from '../support/hub.js';
import { tempDir } from '../support/tmp.js';

/** `edge-agent modbus …` in this process (the real CLI is spawned once below): stdout and the error line. */
async function inProcess(...args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  const program = new Command('edge-agent').exitOverride();
  registerModbus(program);
  let stdout = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => {
    stdout += String(s);
    return true;
  });
  try {
    await program.parseAsync(['node', 'edge-agent', 'modbus', ...args]);
    return { stdout, stderr: '', code: 0 };
  } catch (e) {
    let stderr = '';
    const code = reportError(e, (s) => (stderr += s));
    return { stdout, stderr, code };
  } finally {
    vi.mocked(process.stdout.write).mockRestore();
  }
}

describe('edge-agent modbus write (no running agent)', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it('writes a configured point and reads it back, refuses what the config does not allow, and the agent sends the audit at its next start', async () => {
    const { hub, close } = await startHub();
    cleanups.push(close);
    const dev = await hub.registerDevice('box');
    const model = new SlaveModel();
    const sim = await TcpSlaveSimulator.listen({ slaves: { 1: model } });
    cleanups.push(() => sim.close());
    const dir = tempDir('modbus-write-cli');
    cleanups.push(dir.cleanup);
    const dataDir = join(dir.path, 'data');
    const drivers = [
      {
        type: 'modbus' as const,
        name: 'plc',
        devices: [
          {
            name: 'boiler',
            transport: { kind: 'tcp', host: sim.host, port: sim.port },
            unitId: 1,
            pollMs: 200,
            timeoutMs: 500,
            points: [
              { name: 'setpoint', table: 'holding', address: 10, type: 'int16', scale: 0.5, writable: true, min: 0, max: 90, unit: 'degC' },
              { name: 'level', table: 'holding', address: 20 },
              { name: 'pump', table: 'coil', address: 1, writable: true },
            ],
          },
        ],
      },
    ];
    const configFile = join(dir.path, 'config.json');
    writeFileSync(configFile, JSON.stringify({ hub: { connectionString: dev.connectionString }, dataDir, drivers }));
    const write = (...args: string[]) => inProcess('write', '--config', configFile, ...args);

    const done = await runCli(['modbus', 'write', '--config', configFile, '--device', 'boiler', '--point', 'setpoint', '--value', '21.5', '--by', 'tech-anna']);
    expect(done.stderr).toBe('');
    expect(done.stdout).toBe('boiler setpoint: wrote 21.5, read back 21.5 degC (function 6)\n');
    expect(model.holding[10]).toBe(43);
    const coil = await write('--driver', 'plc', '--device', 'boiler', '--point', 'pump', '--value', 'on', '--json');
    expect(JSON.parse(coil.stdout)).toMatchObject({ driver: 'plc', point: 'pump', requested: true, readBack: true, function: 5 });
    const ro = await write('--device', 'boiler', '--point', 'level', '--value', '3');
    expect(ro).toMatchObject({ code: 1, stdout: '' });
    expect(ro.stderr).toMatch(/^edge-agent: device "boiler" point "level" .* is not writable .*\[EDGE_WRITE_REFUSED\]\n$/);
    const high = await write('--device', 'boiler', '--point', 'setpoint', '--value', '95');
    expect(high.stderr).toContain('95 is above its max 90 [EDGE_WRITE_REFUSED]');
    model.setFault({ kind: 'exception', code: 4 });
    const ex = await write('--device', 'boiler', '--point', 'setpoint', '--value', '30');
    model.setFault({ kind: 'none' });
    expect(ex.stderr).toContain('the device refused the write: SERVER DEVICE FAILURE (4)');
    expect(model.holding[10]).toBe(43);

    const spool = readFileSync(join(dataDir, AUDIT_SPOOL), 'utf8').trim().split('\n');
    expect(spool).toHaveLength(5);

    const run = await startTwinAgent(hub, dev.connectionString, dataDir, { drivers });
    cleanups.push(() => run.agent.stop(0));
    const audits = async () => (await recordsOf(hub, 'box')).filter((r): r is EventRecord => r.kind === 'event' && r.name === 'point.write');
    await untilTelemetry(hub, async () => (await audits()).length >= 5);
    const trail = (await audits()).sort((a, b) => a.seq - b.seq);
    expect(trail.map((r) => [r.data.point, r.data.outcome, r.data.by, r.data.via])).toEqual([
      ['setpoint', 'done', 'cli:tech-anna', 'cli'],
      ['pump', 'done', 'cli', 'cli'],
      ['level', 'refused', 'cli', 'cli'],
      ['setpoint', 'refused', 'cli', 'cli'],
      ['setpoint', 'failed', 'cli', 'cli'],
    ]);
    expect(trail[0]!.data).toMatchObject({ driver: 'plc', device: 'boiler', requested: 21.5, written: 43, readBack: 21.5, id: expect.any(String) });
    expect(trail[4]!.data).toMatchObject({ requested: '30', error: { code: 'EDGE_DEVICE_EXCEPTION' } });
    expect(existsSync(join(dataDir, AUDIT_SPOOL))).toBe(false);
  }, 60_000); // child processes (the CLI, the agent) under a loaded suite
});
