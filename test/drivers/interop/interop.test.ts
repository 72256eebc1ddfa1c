import { afterEach, describe, expect, it } from 'vitest';
import { ModbusDriver } from '../../../drivers/modbus/driver.js';
import { RtuSlaveSimulator } from '../../../drivers/simulators/rtu-slave.js';
import { SlaveModel } from '../../../drivers/simulators/slave-model.js';
import { TcpSlaveSimulator } from '../../../drivers/simulators/tcp-slave.js';
import { usePtyPairs } from '../support/pty.js';
import { RecordingSink } from '../support/sink.js';
import { LIBMODBUS_MAP, startLibmodbusServer } from './libmodbus-server.js';
import { execFileLimited } from '../../support/child.js';

const run = execFileLimited;
const ptyPair = usePtyPairs();
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** `[3]: 	30` lines of mbpoll's output → values by reference. */
function mbpollValues(stdout: string): Record<number, string> {
  const out: Record<number, string> = {};
  for (const m of stdout.matchAll(/^\[(\d+)\]:\s+(\S+)/gm)) out[Number(m[1])] = m[2]!;
  return out;
}

function model(): SlaveModel {
  const m = new SlaveModel();
  m.setRegisters('holding', 0, [10, 20, 30, 40, 50, 60, 70, 80, 90, 65535]);
  m.setValue('input', 4, -7.25, 'float32', 'ABCD');
  m.setBits('coil', 0, [true, false, true]);
  return m;
}

describe('mbpoll (a real Modbus master) reads our simulators', () => {
  it('Modbus TCP simulator', async () => {
    const sim = await TcpSlaveSimulator.listen({ slaves: { 1: model() } });
    cleanups.push(() => sim.close());
    const regs = await run('mbpoll', ['-m', 'tcp', '-p', String(sim.port), '-a', '1', '-r', '1', '-c', '10', '-1', sim.host]);
    expect(mbpollValues(regs.stdout)).toEqual({ 1: '10', 2: '20', 3: '30', 4: '40', 5: '50', 6: '60', 7: '70', 8: '80', 9: '90', 10: '65535' });
    const flt = await run('mbpoll', ['-m', 'tcp', '-p', String(sim.port), '-a', '1', '-t', '3:float', '-B', '-0', '-r', '4', '-c', '1', '-1', sim.host]);
    expect(mbpollValues(flt.stdout)[4]).toBe('-7.25');
    const coils = await run('mbpoll', ['-m', 'tcp', '-p', String(sim.port), '-a', '1', '-t', '0', '-r', '1', '-c', '3', '-1', sim.host]);
    expect(mbpollValues(coils.stdout)).toEqual({ 1: '1', 2: '0', 3: '1' });
  });

  it('Modbus RTU simulator on a pty', async () => {
    const pair = await ptyPair();
    const sim = await RtuSlaveSimulator.open({ path: pair.b, baudRate: 9600, slaves: { 7: model() } });
    cleanups.push(() => sim.close());
    const regs = await run('mbpoll', ['-m', 'rtu', '-b', '9600', '-P', 'none', '-a', '7', '-r', '1', '-c', '10', '-1', pair.a]);
    expect(mbpollValues(regs.stdout)[3]).toBe('30');
    expect(mbpollValues(regs.stdout)[10]).toBe('65535');
    const flt = await run('mbpoll', ['-m', 'rtu', '-b', '9600', '-P', 'none', '-a', '7', '-t', '3:float', '-B', '-0', '-r', '4', '-c', '1', '-1', pair.a]);
    expect(mbpollValues(flt.stdout)[4]).toBe('-7.25');
    // A unit that is not there: mbpoll times out, as against a real bus.
    const dead = await run('mbpoll', ['-m', 'rtu', '-b', '9600', '-P', 'none', '-a', '8', '-o', '0.2', '-1', pair.a]).then(
      () => undefined,
      (err: { stdout: string; stderr: string }) => err,
    );
    expect(dead, 'mbpoll should fail on a unit that is not there').toBeDefined();
    expect(`${dead!.stdout}${dead!.stderr}`).toMatch(/time/i);
  });
});

describe('our driver reads a slave we did not write (libmodbus server)', () => {
  it('holding, input, float32, int16, coils and discrete inputs', async () => {
    const server = await startLibmodbusServer();
    cleanups.push(server.close);
    const driver = new ModbusDriver({
      devices: [
        {
          name: 'libmodbus',
          transport: { kind: 'tcp', host: '127.0.0.1', port: server.port },
          unitId: 1,
          pollMs: 50,
          points: [
            { name: 'h0', table: 'holding', address: 0 },
            { name: 'h9', table: 'holding', address: 9, scale: 0.5, offset: 1 },
            { name: 'f50', table: 'holding', address: 50, type: 'float32', order: 'ABCD' },
            { name: 'f52', table: 'holding', address: 52, type: 'float32', order: 'CDAB' },
            { name: 'neg', table: 'holding', address: 60, type: 'int16' },
            { name: 'in3', table: 'input', address: 3 },
            { name: 'c0', table: 'coil', address: 0 },
            { name: 'c2', table: 'coil', address: 2 },
            { name: 'd1', table: 'discrete', address: 1 },
          ],
        },
      ],
    });
    cleanups.push(() => driver.stop());
    const rec = new RecordingSink();
    await driver.start(rec.sink);
    const batch = await rec.next();
    const byName = Object.fromEntries(batch.map((r) => [r.point, r.value]));
    expect(batch.every((r) => r.quality === 'good')).toBe(true);
    expect(byName).toEqual({
      h0: LIBMODBUS_MAP.holding(0),
      h9: LIBMODBUS_MAP.holding(9) * 0.5 + 1,
      f50: LIBMODBUS_MAP.float32At50,
      f52: LIBMODBUS_MAP.float32CdabAt52,
      neg: LIBMODBUS_MAP.int16At60,
      in3: LIBMODBUS_MAP.input(3),
      c0: true,
      c2: true,
      d1: true,
    });
    // Block planning: holding 0..9 and 50..51 and 60 are three requests at maxGap 10, not seven.
    expect(driver.plan().libmodbus!.filter((b) => b.table === 'holding').map((b) => [b.address, b.count])).toEqual([
      [0, 10],
      [50, 11],
    ]);
  });
});
