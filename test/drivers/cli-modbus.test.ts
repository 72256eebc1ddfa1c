import { Command } from 'commander';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { registerModbus } from '../../agent/cli/commands/modbus.js';
import { reportError } from '../../agent/cli/exit.js';
import { RtuSlaveSimulator } from '../../drivers/simulators/rtu-slave.js';
import { SlaveModel } from '../../drivers/simulators/slave-model.js';
import { TcpSlaveSimulator } from '../../drivers/simulators/tcp-slave.js';
import { usePtyPairs } from './support/pty.js';

const ptyPair = usePtyPairs();
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  vi.restoreAllMocks();
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Runs `edge-agent modbus …` in-process: stdout, and the one-line error as the CLI prints it. */
async function cli(...args: string[]): Promise<{ out: string; err: string; code: number }> {
  const program = new Command('edge-agent').exitOverride();
  registerModbus(program);
  let out = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => {
    out += String(s);
    return true;
  });
  try {
    await program.parseAsync(['node', 'edge-agent', 'modbus', ...args]);
    return { out, err: '', code: 0 };
  } catch (e) {
    let err = '';
    const code = reportError(e, (s) => (err += s));
    return { out, err, code };
  } finally {
    vi.mocked(process.stdout.write).mockRestore();
  }
}

function model(): SlaveModel {
  const m = new SlaveModel();
  m.setRegisters('holding', 0, [10, 20, 30]);
  m.setValue('holding', 100, 12.5, 'float32', 'CDAB');
  m.setValue('holding', 102, -3.75, 'float32', 'CDAB');
  return m;
}

describe('edge-agent modbus read', () => {
  it('reads holding registers over TCP and prints values with raw registers', async () => {
    const sim = await TcpSlaveSimulator.listen({ slaves: { 1: model() } });
    cleanups.push(() => sim.close());
    const r = await cli('read', '--host', sim.host, '--tcp-port', String(sim.port), '--unit', '1', '--address', '0', '--count', '3');
    expect(r.code).toBe(0);
    expect(r.out).toBe('holding 0: 10  [0x000a]\nholding 1: 20  [0x0014]\nholding 2: 30  [0x001e]\n');
  });

  it('decodes --type float32 --order CDAB over RTU and prints --json', async () => {
    const pair = await ptyPair();
    const sim = await RtuSlaveSimulator.open({ path: pair.b, baudRate: 19200, parity: 'even', slaves: { 3: model() } });
    cleanups.push(() => sim.close());
    const r = await cli('read', '--port', pair.a, '--baud', '19200', '--parity', 'even', '--unit', '3', '--address', '100', '--count', '2', '--type', 'float32', '--order', 'CDAB', '--json');
    expect(r.err).toBe('');
    expect(JSON.parse(r.out)).toMatchObject({ unit: 3, table: 'holding', type: 'float32', order: 'CDAB', values: [{ address: 100, value: 12.5 }, { address: 102, value: -3.75 }] });
  });

  it('says which unit and port timed out, in one line, exit code 1', async () => {
    const pair = await ptyPair();
    const sim = await RtuSlaveSimulator.open({ path: pair.b, slaves: { 1: model() } });
    cleanups.push(() => sim.close());
    const r = await cli('read', '--port', pair.a, '--unit', '9', '--address', '0', '--timeout', '100');
    expect(r.code).toBe(1);
    expect(r.err).toBe(`edge-agent: unit 9 on ${pair.a} did not answer within 100 ms [EDGE_DEVICE_TIMEOUT]\n`);
  });

  it('refuses bad flags with a usage error (exit 2), and a missing port in one line', async () => {
    expect(await cli('read', '--unit', '1', '--address', '0')).toMatchObject({ code: 2, err: expect.stringContaining('give --device PATH') });
    expect(await cli('read', '--host', 'h', '--unit', '1', '--address', '0', '--count', '63', '--type', 'float32')).toMatchObject({
      code: 2,
      err: expect.stringContaining('needs 126 registers'),
    });
    const missing = await cli('read', '--port', '/dev/edge-no-such-port', '--unit', '1', '--address', '0');
    expect(missing.code).toBe(1);
    expect(missing.err).toBe('edge-agent: cannot open serial port /dev/edge-no-such-port: No such file or directory [EDGE_DEVICE_UNAVAILABLE]\n');
  });
});

describe('edge-agent modbus scan', () => {
  it('lists the unit ids that answer on a bus, counting an exception reply as an answer', async () => {
    const pair = await ptyPair();
    const busy = model();
    busy.setFault({ kind: 'exception', code: 6 });
    const sim = await RtuSlaveSimulator.open({ path: pair.b, slaves: { 2: model(), 5: busy } });
    cleanups.push(() => sim.close());
    const r = await cli('scan', '--port', pair.a, '--from', '1', '--to', '6', '--timeout', '60', '--json');
    expect(JSON.parse(r.out)).toEqual({ units: [{ unit: 2, reply: 'ok' }, { unit: 5, reply: { exception: 6, name: 'SERVER DEVICE BUSY' } }] });
  });

  it('prints each unit as it answers, not at the end; --port is still taken for --device', async () => {
    const pair = await ptyPair();
    const sim = await RtuSlaveSimulator.open({ path: pair.b, slaves: { 2: model() } });
    cleanups.push(() => sim.close());
    const writes: Array<{ at: number; text: string }> = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => {
      writes.push({ at: performance.now(), text: String(s) });
      return true;
    });
    const program = new Command('edge-agent').exitOverride();
    registerModbus(program);
    await program.parseAsync(['node', 'edge-agent', 'modbus', 'scan', '--port', pair.a, '--from', '1', '--to', '6', '--timeout', '80ms']);
    const end = performance.now();
    vi.mocked(process.stdout.write).mockRestore();
    expect(writes.map((w) => w.text)).toEqual(['unit 2: answers\n', '1 unit answer\n']);
    // Units 3–6 were still to be asked (80 ms each, unanswered) when unit 2's line was written.
    expect(end - writes[0]!.at).toBeGreaterThanOrEqual(4 * 80 - 20);
  });
});
