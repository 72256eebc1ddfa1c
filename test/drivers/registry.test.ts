import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../agent/core/clock.js';
import { silentLogger } from '../../agent/core/logger.js';
import { ModbusDriver } from '../../drivers/modbus/driver.js';
import { createDriver, DRIVER_TYPES, driverSectionSchema, type DriverSection } from '../../drivers/registry.js';
import { SerialLineDriver } from '../../drivers/serial-line/driver.js';
import { SyntheticDriver } from '../../drivers/synthetic/synthetic-driver.js';
import { childLimit } from '../support/child.js';
import { finished, ROOT } from '../support/cli.js';
import { tempDir } from '../support/tmp.js';

const sections: Record<DriverSection['type'], unknown> = {
  synthetic: { type: 'synthetic', name: 'synth', source: 's-1', points: [{ name: 'p0' }] },
  modbus: { type: 'modbus', devices: [{ name: 'plc-1', transport: { kind: 'tcp', host: '127.0.0.1' }, unitId: 1, points: [{ name: 'p0', table: 'holding', address: 0 }] }] },
  'serial-line': { type: 'serial-line', sensors: [{ name: 'wx', path: '/dev/null-sensor', parser: { kind: 'json', fields: { t: 'temp' } } }] },
};

describe('the driver registry', () => {
  it('builds, for every type the schema accepts, the driver of that type from its validated section', async () => {
    const expected = { synthetic: SyntheticDriver, modbus: ModbusDriver, 'serial-line': SerialLineDriver };
    expect([...DRIVER_TYPES].sort()).toEqual(Object.keys(expected).sort());
    for (const type of DRIVER_TYPES) {
      const section = driverSectionSchema.parse(sections[type]);
      const driver = await createDriver(section, { clock: new ManualClock(0), logger: silentLogger });
      expect(driver, type).toBeInstanceOf(expected[type]);
    }
  });

  it('refuses a section its driver’s own parser refuses, naming the device', () => {
    const bad = { ...(sections.modbus as object), devices: [{ name: 'plc-9', transport: { kind: 'tcp', host: '127.0.0.1' }, unitId: 1, points: [{ name: 'p0', table: 'coil', address: 0, type: 'float32' }] }] };
    const res = driverSectionSchema.safeParse(bad);
    expect(res.success).toBe(false);
    expect(res.error?.issues[0]?.message).toContain('device "plc-9" point "p0"');
    expect(driverSectionSchema.safeParse({ type: 'opc-ua', name: 'x' }).success).toBe(false);
  });

  it('loads no driver implementation until a driver is created, and no serialport for Modbus TCP', async () => {
    const dir = tempDir('registry-load');
    try {
      const log = join(dir.path, 'modules.txt');
      const hooks = pathToFileURL(join(ROOT, 'test/support/import-log.mjs')).href;
      const register = `import { register } from 'node:module'; register(${JSON.stringify(hooks)}, { data: { file: ${JSON.stringify(log)} } });`;
      // Validates a Modbus section, marks the log, then creates a synthetic driver: what the hook
      // lists after the mark shows it sees the loader's dynamic imports.
      const program = [
        `const r = await import(${JSON.stringify(pathToFileURL(join(ROOT, 'drivers/registry.ts')).href)});`,
        `r.driverSectionSchema.parse(${JSON.stringify(sections.modbus)});`,
        `(await import('node:fs')).appendFileSync(${JSON.stringify(log)}, 'created\\n');`,
        `await r.createDriver(r.driverSectionSchema.parse(${JSON.stringify(sections.synthetic)}), { clock: { now: Date.now }, logger: undefined });`,
        `const silent = { child: () => silent, info() {}, warn() {}, debug() {}, error() {}, trace() {}, fatal() {} };`,
        `await r.createDriver(r.driverSectionSchema.parse(${JSON.stringify(sections.modbus)}), { clock: { now: Date.now }, logger: silent });`,
      ].join('\n');
      const child = spawn(process.execPath, ['--import', 'tsx', '--import', `data:text/javascript,${encodeURIComponent(register)}`, '--input-type=module', '-e', program], {
        cwd: ROOT,
        env: { ...process.env, NODE_OPTIONS: '' },
        ...childLimit(),
      });
      child.stdin.end();
      const run = await finished(child);
      expect(run.code, run.stderr).toBe(0);
      const [before, after] = readFileSync(log, 'utf8')
        .split('created\n')
        .map((part) => part.split('\n').filter((u) => u.startsWith('file:')).map((u) => relative(ROOT, fileURLToPath(u))));
      expect(before).toContain('drivers/registry.ts');
      expect(before).toContain('drivers/config.ts');
      const implementation = /node_modules\/serialport\/|drivers\/(modbus|serial-line)\/driver\.ts|synthetic-driver\.ts|transport\.ts$/;
      expect(before!.filter((f) => implementation.test(f))).toEqual([]);
      expect(after).toContain('drivers/synthetic/synthetic-driver.ts');
      expect(after).toContain('drivers/modbus/driver.ts');
      expect(after!.filter((f) => f.includes('serialport'))).toEqual([]);
    } finally {
      dir.cleanup();
    }
  });
});
