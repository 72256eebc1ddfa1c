import { describe, expect, it } from 'vitest';
import { isEdgeError } from '../../agent/core/errors.js';
import { parseModbusConfig } from '../../drivers/config.js';

const dev = (points: unknown[], extra: Record<string, unknown> = {}) => ({
  devices: [{ name: 'boiler-1', transport: { kind: 'rtu', path: '/dev/ttyUSB0' }, unitId: 3, points, ...extra }],
});

function refusal(input: unknown): string {
  try {
    parseModbusConfig(input);
  } catch (err) {
    expect(isEdgeError(err, 'EDGE_CONFIG_INVALID')).toBe(true);
    return (err as Error).message;
  }
  throw new Error('config was accepted');
}

describe('Modbus config refusals name the device and the point', () => {
  it('overlapping points', () => {
    const msg = refusal(dev([
      { name: 'flow', table: 'holding', address: 10, type: 'float32' },
      { name: 'status', table: 'holding', address: 11 },
    ]));
    expect(msg).toContain('device "boiler-1" point "status"');
    expect(msg).toContain('overlaps point "flow"');
  });

  it('a count over 125 registers', () => {
    const msg = refusal(dev([{ name: 'label', table: 'holding', address: 0, type: 'string', count: 126 }]));
    expect(msg).toContain('device "boiler-1" point "label"');
    expect(msg).toContain('over the Modbus limit of 125');
  });

  it('an unknown type', () => {
    const msg = refusal(dev([{ name: 'temp', table: 'input', address: 0, type: 'float128' }]));
    expect(msg).toMatch(/device "boiler-1" point "temp" type: unknown value "float128" \(expected one of bool, int16/);
  });

  it('other mistakes a technician makes', () => {
    expect(refusal(dev([{ name: 'run', table: 'coil', address: 0, type: 'int16' }]))).toContain('point "run": a coil holds bits');
    expect(refusal(dev([{ name: 'x', table: 'holding', address: 0 }], { cron: 'every minute' }))).toContain('device "boiler-1": cron');
    expect(refusal(dev([{ name: 'x', table: 'holding', address: 0 }], { unitId: 0 }))).toContain('unitId 0 must be 1..247');
    expect(refusal(dev([{ name: 'x', table: 'holdings', address: 0 }]))).toContain('point "x" table: unknown value "holdings"');
    expect(refusal({ devices: [{ name: 'a', transport: { kind: 'rtu', path: '/dev/x', baudRate: 9600 }, unitId: 1, points: [{ name: 'p', table: 'input', address: 0 }] }, { name: 'b', transport: { kind: 'rtu', path: '/dev/x', baudRate: 19200 }, unitId: 2, points: [{ name: 'p', table: 'input', address: 0 }] }] })).toContain('device "b": serial line /dev/x settings');
  });

  it('accepts a good config and fills defaults', () => {
    const cfg = parseModbusConfig(dev([{ name: 'flow', table: 'holding', address: 10, type: 'float32', order: 'CDAB', scale: 0.5 }]));
    const d = cfg.devices[0]!;
    expect(d).toMatchObject({ pollMs: 1000, timeoutMs: 1000, retries: 1, maxGap: 10, transport: { baudRate: 9600, parity: 'none' } });
    expect(d.points[0]).toMatchObject({ count: 2, order: 'CDAB', scale: 0.5, offset: 0 });
  });

  it('write settings: writable only where Modbus writes, sane bounds, a scale a write can divide by', () => {
    expect(refusal(dev([{ name: 'flow', table: 'input', address: 0, writable: true }]))).toContain('point "flow": the input table is read-only in Modbus');
    expect(refusal(dev([{ name: 'alarm', table: 'discrete', address: 0, writable: true }]))).toContain('only coil and holding points can be writable');
    expect(refusal(dev([{ name: 'sp', table: 'holding', address: 0, writable: true, min: 10, max: 5 }]))).toContain('point "sp": min 10 is above max 5');
    expect(refusal(dev([{ name: 'run', table: 'coil', address: 0, writable: true, max: 1 }]))).toContain('point "run": min/max apply to numbers, not to a bool');
    expect(refusal(dev([{ name: 'sp', table: 'holding', address: 0, writable: true, scale: 0 }]))).toContain('point "sp": a writable point needs a non-zero scale');
    const ok = parseModbusConfig(dev([{ name: 'sp', table: 'holding', address: 0, writable: true, min: -5, max: 80 }, { name: 'ro', table: 'holding', address: 1 }]));
    expect(ok.devices[0]!.points.map((p) => [p.name, p.writable, p.writeMultiple, p.min, p.max])).toEqual([
      ['sp', true, false, -5, 80],
      ['ro', false, false, undefined, undefined],
    ]);
  });

  it('line quiet times: safe for libmodbus slaves on a serial line, off on TCP, and one value per line', () => {
    const rtu = parseModbusConfig(dev([{ name: 'x', table: 'holding', address: 0 }])).devices[0]!.transport;
    expect(rtu).toMatchObject({ pauseBetweenRequestsMs: 0, quietAfterNoReplyMs: 600 });
    const tcp = parseModbusConfig({ devices: [{ name: 't', transport: { kind: 'tcp', host: 'plc' }, unitId: 1, points: [{ name: 'x', table: 'holding', address: 0 }] }] }).devices[0]!.transport;
    expect(tcp).toMatchObject({ pauseBetweenRequestsMs: 0, quietAfterNoReplyMs: 0 });
    const two = (b: Record<string, unknown>) => ({
      devices: [
        { name: 'a', transport: { kind: 'rtu', path: '/dev/x' }, unitId: 1, points: [{ name: 'p', table: 'input', address: 0 }] },
        { name: 'b', transport: { kind: 'rtu', path: '/dev/x', ...b }, unitId: 2, points: [{ name: 'p', table: 'input', address: 0 }] },
      ],
    });
    expect(refusal(two({ quietAfterNoReplyMs: 100 }))).toMatch(/device "b": serial line \/dev\/x settings .*quiet after no reply 100 ms differ from device "a"/);
    expect(refusal(two({ pauseBetweenRequestsMs: -1 }))).toContain('pauseBetweenRequestsMs');
  });
});
