import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../agent/core/clock.js';
import type { Reading } from '../../agent/core/reading.js';
import { checkConfig } from '../../agent/config/load.js';
import { deadbandsOf, driverSectionSchema } from '../../drivers/registry.js';
import { SyntheticDriver } from '../../drivers/synthetic/synthetic-driver.js';
import { syntheticSettingsSchema } from '../../drivers/synthetic/config.js';

const modbus = (points: unknown[], extra: Record<string, unknown> = {}) => ({
  type: 'modbus',
  name: 'bus',
  devices: [{ name: 'boiler-1', transport: { kind: 'tcp', host: '127.0.0.1' }, unitId: 1, points }],
  ...extra,
});

const serial = (sensor: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  type: 'serial-line',
  name: 'rs',
  sensors: [{ name: 'gauge', path: '/dev/ttyUSB1', parser: { kind: 'csv', columns: [{ name: 'temp', index: 0 }, { name: 'state', index: 1, type: 'string' }] }, ...sensor }],
  ...extra,
});

/** The config-invalid message a section gets, or undefined when it is taken. */
function refusal(section: unknown): string | undefined {
  const res = driverSectionSchema.safeParse(section);
  return res.success ? undefined : res.error.issues.map((i) => i.message).join('; ');
}

describe('deadband settings in the drivers’ configs', () => {
  it('a driver default is inherited; a point’s own replaces it whole; false turns it off (Modbus)', () => {
    const section = driverSectionSchema.parse(
      modbus(
        [
          { name: 'temp', table: 'input', address: 0 },
          { name: 'flow', table: 'input', address: 1, deadband: { absolute: 2 } },
          { name: 'raw', table: 'input', address: 2, deadband: false },
          { name: 'run', table: 'coil', address: 0, deadband: { maxSilenceMs: 60_000 } },
        ],
        { deadband: { percent: 0.5, maxSilenceMs: 300_000 } },
      ),
    );
    expect(deadbandsOf(section)).toEqual({
      driver: 'bus',
      rules: [
        { source: 'boiler-1', point: 'temp', spec: { percent: 0.5, maxSilenceMs: 300_000 } },
        { source: 'boiler-1', point: 'flow', spec: { absolute: 2 } },
        { source: 'boiler-1', point: 'run', spec: { maxSilenceMs: 60_000 } },
      ],
    });
  });

  it.each<[string, unknown, RegExp]>([
    ['a band on a coil', modbus([{ name: 'run', table: 'coil', address: 0, deadband: { absolute: 1 } }]), /device "boiler-1" point "run": deadband absolute\/percent apply to numbers; a bool is forwarded on change only/],
    ['a band on a Modbus string', modbus([{ name: 'tag', table: 'holding', address: 0, type: 'string', count: 4, deadband: { percent: 1 } }]), /point "tag": deadband absolute\/percent apply to numbers; a string/],
    ['a percent over 100', modbus([{ name: 't', table: 'input', address: 0 }], { deadband: { percent: 150 } }), /deadband\.percent must be 0\.\.100/],
    ['a negative absolute', modbus([{ name: 't', table: 'input', address: 0, deadband: { absolute: -1 } }]), /point "t" deadband.*absolute must be ≥ 0/],
    ['a heartbeat under a second', modbus([{ name: 't', table: 'input', address: 0, deadband: { maxSilenceMs: 10 } }]), /maxSilenceMs must be a whole number of ms ≥ 1000/],
    ['a misspelt field', modbus([{ name: 't', table: 'input', address: 0, deadband: { absolut: 1 } }]), /absolut/],
    ['a serial point the parser does not have', serial({ pointDeadbands: { tmep: { absolute: 1 } } }), /sensor "gauge" pointDeadbands "tmep": the parser has no field "tmep" \(it has temp, state\)/],
    ['a band on a serial string field', serial({ pointDeadbands: { state: { absolute: 1 } } }), /pointDeadbands "state": deadband absolute\/percent apply to numbers; a string/],
  ])('refused: %s', (_name, section, message) => {
    expect(refusal(section)).toMatch(message);
  });

  it('serial-line: driver → sensor → point, with the sensor default standing for fields known only at run time', () => {
    const section = driverSectionSchema.parse(serial({ deadband: { absolute: 0.2 }, pointDeadbands: { state: { maxSilenceMs: 60_000 }, temp: false } }, { deadband: { percent: 1 } }));
    expect(deadbandsOf(section).rules).toEqual([
      { source: 'gauge', spec: { absolute: 0.2 } },
      { source: 'gauge', point: 'state', spec: { maxSilenceMs: 60_000 } },
      { source: 'gauge', point: 'temp', spec: false },
    ]);
  });

  it('synthetic: driver default and points, and a drift setting on a sine is refused by name', () => {
    const section = driverSectionSchema.parse({ type: 'synthetic', name: 's', source: 'sim', deadband: { absolute: 1 }, points: [{ name: 'a' }, { name: 'b', deadband: false }] });
    expect(deadbandsOf(section).rules).toEqual([{ source: 'sim', point: 'a', spec: { absolute: 1 } }]);
    const res = syntheticSettingsSchema.safeParse({ name: 's', source: 'sim', points: [{ name: 'a', noise: 0.1 }] });
    expect(res.success).toBe(false);
    expect(res.error?.issues[0]?.message).toBe('noise is a setting of signal "drift" (this point\'s signal is "sine")');
  });

  it('the agent’s config check takes a deadband and refuses a bad one, naming the point', () => {
    const base = { hub: { connectionString: 'HostName=h;DeviceId=d;SharedAccessKey=a2V5' }, dataDir: '/var/lib/edge-agent' };
    const good = checkConfig({ ...base, drivers: [modbus([{ name: 't', table: 'input', address: 0 }], { deadband: { percent: 0.5, maxSilenceMs: 300_000 } })] });
    expect(good.ok).toBe(true);
    const bad = checkConfig({ ...base, drivers: [modbus([{ name: 'run', table: 'coil', address: 0, deadband: { percent: 1 } }])] });
    expect(bad.ok).toBe(false);
    expect(JSON.stringify(bad)).toContain('point \\"run\\": deadband absolute/percent apply to numbers');
  });
});

describe('synthetic drift signal', () => {
  async function values(points: unknown[], polls: number): Promise<Reading[][]> {
    const clock = new ManualClock(Date.UTC(2026, 0, 1));
    const settings = syntheticSettingsSchema.parse({ name: 's', source: 'sim', intervalMs: 1000, points });
    const driver = new SyntheticDriver({ ...settings, clock });
    const got: Reading[][] = [];
    let seen: (() => void) | undefined;
    await driver.start(async (rs) => {
      got.push(rs);
      seen?.();
    });
    for (let i = 0; i < polls; i++) {
      const next = new Promise<void>((r) => (seen = r));
      clock.advance(i === 0 ? 0 : 1000);
      await next;
    }
    await driver.stop();
    return got;
  }

  it('wanders slowly around its setpoint with small noise, on its resolution, the same each run', async () => {
    const point = { name: 'temp', signal: 'drift', setpoint: 80, drift: 0.024, reversion: 0.002, noise: 0.04, resolution: 0.01 };
    const a = (await values([point], 300)).map((rs) => rs[0]!.value as number);
    const b = (await values([point], 300)).map((rs) => rs[0]!.value as number);
    expect(a).toEqual(b);
    expect(a.every((v) => Math.abs(v - 80) < 2)).toBe(true);
    // On the 0.01 grid, and printed so (no 80.07000000000001 on the wire).
    expect(a.every((v) => /^\d+(\.\d{1,2})?$/.test(String(v)))).toBe(true);
    const steps = a.slice(1).map((v, i) => Math.abs(v - a[i]!));
    // Small moves from poll to poll, but it does move (not a constant).
    expect(Math.max(...steps)).toBeLessThan(0.4);
    expect(new Set(a).size).toBeGreaterThan(20);
  });
});
