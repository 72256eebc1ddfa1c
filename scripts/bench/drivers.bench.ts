// Drivers benchmarks: what the agent itself costs per Modbus request, and how many polls a
// shared RTU bus sustains, beside the wire's own limits. A pty has no wire time (the baud
// rate is not simulated), so these figures are the agent's overhead alone.
import modbusSerial from 'modbus-serial';
import type { BenchRow, BenchSuite } from './harness.js';
import { ModbusDriver } from '../../drivers/modbus/driver.js';
import { readRequest } from '../../drivers/modbus/pdu.js';
import { RtuTransport } from '../../drivers/modbus/rtu-transport.js';
import { TcpTransport } from '../../drivers/modbus/tcp-transport.js';
import { RtuSlaveSimulator } from '../../drivers/simulators/rtu-slave.js';
import { SlaveModel } from '../../drivers/simulators/slave-model.js';
import { openPtyPair } from '../../drivers/simulators/socat-pty.js';
import { TcpSlaveSimulator } from '../../drivers/simulators/tcp-slave.js';

/**
 * Wire time of one 10-register read (request 8 bytes + reply 25 bytes, 11-bit characters,
 * plus the 3.5-character silence after each frame; fixed 1.75 ms above 19200 baud).
 */
export function lineTimeMs(baud: number, replyBytes = 25, requestBytes = 8): number {
  const charMs = (11 * 1000) / baud;
  const silence = baud > 19200 ? 1.75 : 3.5 * charMs;
  return (requestBytes + replyBytes) * charMs + 2 * silence;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function roundTrips(request: () => Promise<unknown>, minMs: number): Promise<number[]> {
  for (let i = 0; i < 50; i++) await request(); // warm up
  const times: number[] = [];
  const end = performance.now() + minMs;
  while (performance.now() < end) {
    const t = performance.now();
    await request();
    times.push(performance.now() - t);
  }
  return times.sort((a, b) => a - b);
}

// modbus-serial is CommonJS: its module.exports is the client class. The part we use:
interface RtuClient {
  connectRTUBuffered(path: string, options: { baudRate: number }): Promise<void>;
  setID(id: number): void;
  setTimeout(ms: number): void;
  readHoldingRegisters(address: number, count: number): Promise<{ data: number[] }>;
  close(callback: () => void): void;
}
const ModbusRTU = modbusSerial as unknown as new () => RtuClient;

const limits = `line time of a 10-register read: ${lineTimeMs(9600).toFixed(1)} ms @9600, ${lineTimeMs(19200).toFixed(1)} ms @19200, ${lineTimeMs(115200).toFixed(1)} ms @115200`;

export const suite: BenchSuite = {
  name: 'drivers',
  async run(log) {
    const rows: BenchRow[] = [];
    const model = new SlaveModel();
    model.setRegisters('holding', 0, Array.from({ length: 10 }, (_, i) => i));
    const req = readRequest('holding', 0, 10);

    // 1. Round trip over a pty: transport + framing + simulator, no wire time.
    {
      const pair = await openPtyPair();
      const sim = await RtuSlaveSimulator.open({ path: pair.b, baudRate: 115200, slaves: { 1: model } });
      const t = new RtuTransport({ path: pair.a, baudRate: 115200 });
      await t.open();
      const times = await roundTrips(() => t.request(1, req, 1000), 1500);
      await t.close();
      await sim.close();
      await pair.close();
      log(`rtu: ${times.length} reads`);
      rows.push({
        name: 'RTU 10-register read round trip over a pty (median)',
        value: percentile(times, 50),
        unit: 'ms',
        baseline: { name: 'line time @115200', value: lineTimeMs(115200) },
        note: `p99 ${percentile(times, 99).toFixed(2)} ms; ${limits}`,
      });
    }

    // 2. The same over TCP loopback, for comparison.
    {
      const sim = await TcpSlaveSimulator.listen({ slaves: { 1: model } });
      const t = new TcpTransport({ host: sim.host, port: sim.port });
      await t.open();
      const times = await roundTrips(() => t.request(1, req, 1000), 1000);
      log(`tcp: ${times.length} reads`);
      await t.close();
      await sim.close();
      rows.push({ name: 'TCP 10-register read round trip over loopback (median)', value: percentile(times, 50), unit: 'ms', note: `p99 ${percentile(times, 99).toFixed(2)} ms` });
    }

    // 3. Sustained polls/s: 10 slaves on one bus, each polled as fast as the bus allows.
    {
      const pair = await openPtyPair();
      const slaves = new Map<number, SlaveModel>();
      for (let u = 1; u <= 10; u++) slaves.set(u, model);
      const sim = await RtuSlaveSimulator.open({ path: pair.b, baudRate: 115200, slaves });
      const driver = new ModbusDriver({
        devices: [...slaves.keys()].map((u) => ({
          name: `slave-${u}`,
          transport: { kind: 'rtu' as const, path: pair.a, baudRate: 115200 },
          unitId: u,
          pollMs: 1, // more than the bus can carry: the bus is the limit
          timeoutMs: 500,
          points: Array.from({ length: 10 }, (_, i) => ({ name: `r${i}`, table: 'holding' as const, address: i })),
        })),
      });
      let polls = 0;
      const perUnit = new Map<number, number>();
      const onReq = (ev: { unit: number }): void => {
        polls++;
        perUnit.set(ev.unit, (perUnit.get(ev.unit) ?? 0) + 1);
      };
      await driver.start(async () => undefined);
      await new Promise((r) => setTimeout(r, 300)); // settle
      sim.on('request', onReq);
      const t0 = performance.now();
      await new Promise((r) => setTimeout(r, 2000));
      sim.off('request', onReq);
      const rate = (polls * 1000) / (performance.now() - t0);
      await driver.stop();
      await sim.close();
      await pair.close();
      const counts = [...perUnit.values()];
      log(`bus: ${polls} polls, per slave min ${Math.min(...counts)} max ${Math.max(...counts)}`);
      rows.push({
        name: 'sustained polls/s, 10 slaves on one RTU bus (pty), 10-register reads',
        value: rate,
        unit: 'polls/s',
        baseline: { name: 'wire limit @115200', value: 1000 / lineTimeMs(115200) },
        note: `wire limits: ${(1000 / lineTimeMs(9600)).toFixed(1)}/s @9600, ${(1000 / lineTimeMs(19200)).toFixed(1)}/s @19200; fairness min/max per slave ${Math.min(...counts)}/${Math.max(...counts)}`,
      });
    }
    // 4. The framing decision, measured: a truncated frame header on the line before the
    //    reply (what an echo or an earlier cut-off frame leaves). Same simulator, same pty.
    {
      const pair = await openPtyPair();
      const faulty = new SlaveModel();
      faulty.setRegisters('holding', 0, Array.from({ length: 10 }, (_, i) => i + 1));
      faulty.setFault({ kind: 'stray-header' });
      const sim = await RtuSlaveSimulator.open({ path: pair.b, slaves: { 1: faulty } });
      const N = 30;
      const theirs = new ModbusRTU();
      await theirs.connectRTUBuffered(pair.a, { baudRate: 9600 });
      theirs.setID(1);
      theirs.setTimeout(300);
      let theirOk = 0;
      for (let i = 0; i < N; i++) {
        try {
          if ((await theirs.readHoldingRegisters(0, 10)).data[9] === 10) theirOk++;
        } catch {
          // counted as a failed read
        }
      }
      await new Promise<void>((r) => theirs.close(() => r()));
      const ours = new RtuTransport({ path: pair.a });
      await ours.open();
      let ourOk = 0;
      for (let i = 0; i < N; i++) {
        try {
          if ((await ours.request(1, req, 300)).readUInt16BE(2 + 18) === 10) ourOk++;
        } catch {
          // counted as a failed read
        }
      }
      await ours.close();
      await sim.close();
      await pair.close();
      const what = `good reads of ${N}, stray frame header before each reply`;
      rows.push({ name: `${what}: our RTU framing`, value: ourOk, unit: 'reads', note: 'finds the valid-CRC frame behind the stray bytes' });
      rows.push({ name: `${what}: modbus-serial`, value: theirOk, unit: 'reads', note: 'cuts at the first unit+function match, then fails the CRC' });
    }
    return rows;
  },
};
