import { systemClock, type Clock } from '../../agent/core/clock.js';
import type { ModbusDriverInput } from '../config.js';
import type { SerialLineDriverInput } from '../serial-line/config.js';
import { LineSensorSimulator, lines } from './line-sensor.js';
import { RtuSlaveSimulator } from './rtu-slave.js';
import { signalValue, type Signal } from './signals.js';
import { SlaveModel } from './slave-model.js';
import { openPtyPair } from './socat-pty.js';
import { TcpSlaveSimulator } from './tcp-slave.js';

export interface DemoSimulatorOptions {
  /** Holding registers 0..N-1, each an int16 holding value×10 (default 10). */
  registers?: number;
  unitId?: number;
  /** Device name in the driver config (default `sim-tcp-1` / `sim-rtu-<unit>`). */
  deviceName?: string;
  pollMs?: number;
  clock?: Clock;
}

export interface DemoSimulator {
  /** The driver config that reads this simulator; pass it to `new ModbusDriver(...)`. */
  driverConfig: ModbusDriverInput;
  close(): Promise<void>;
}

/** Register i follows a sine (even i) or a ramp (odd i) with its own period, so charts move. */
export function demoSignal(i: number): Signal {
  return i % 2 === 0
    ? { kind: 'sine', amplitude: 10 + i, periodMs: 60_000 + i * 7_000, offset: 20 + i }
    : { kind: 'ramp', from: 0, to: 100, periodMs: 120_000 + i * 11_000 };
}

function demoModel(registers: number): SlaveModel {
  const model = new SlaveModel();
  for (let i = 0; i < registers; i++) {
    const s = demoSignal(i);
    // Stored as value×10 in an int16; the driver config scales by 0.1.
    const scaled: Signal =
      s.kind === 'sine' ? { ...s, amplitude: s.amplitude * 10, offset: (s.offset ?? 0) * 10 } : s.kind === 'ramp' ? { ...s, from: s.from * 10, to: s.to * 10 } : s;
    model.bind({ table: 'holding', address: i, type: 'int16', signal: scaled });
  }
  return model;
}

function demoPoints(registers: number): ModbusDriverInput['devices'][number]['points'] {
  return Array.from({ length: registers }, (_, i) => ({
    name: i % 2 === 0 ? `temp${i}` : `level${i}`,
    table: 'holding' as const,
    address: i,
    type: 'int16' as const,
    scale: 0.1,
    unit: i % 2 === 0 ? 'degC' : '%',
  }));
}

/**
 * Starts a Modbus TCP simulator on 127.0.0.1 (free port) with N holding registers following
 * sine/ramp, and returns where it listens plus a matching driver config.
 */
export async function startTcpDemoSimulator(options: DemoSimulatorOptions = {}): Promise<DemoSimulator & { host: string; port: number; simulator: TcpSlaveSimulator }> {
  const registers = options.registers ?? 10;
  const unitId = options.unitId ?? 1;
  const simulator = await TcpSlaveSimulator.listen({ slaves: { [unitId]: demoModel(registers) }, ...(options.clock ? { clock: options.clock } : {}) });
  const driverConfig: ModbusDriverInput = {
    name: 'modbus-demo-tcp',
    devices: [
      {
        name: options.deviceName ?? 'sim-tcp-1',
        transport: { kind: 'tcp', host: simulator.host, port: simulator.port },
        unitId,
        pollMs: options.pollMs ?? 1000,
        timeoutMs: 1000,
        points: demoPoints(registers),
      },
    ],
  };
  return { host: simulator.host, port: simulator.port, simulator, driverConfig, close: () => simulator.close() };
}

/**
 * Starts a pty pair (socat) with an RTU bus of `slaves` simulated slaves (units 1..n) on one
 * end; the driver config reads the other end.
 */
export async function startRtuDemoSimulator(
  options: DemoSimulatorOptions & { slaves?: number; baudRate?: number } = {},
): Promise<DemoSimulator & { path: string; simulator: RtuSlaveSimulator }> {
  const registers = options.registers ?? 10;
  const n = options.slaves ?? 1;
  const models = new Map<number, SlaveModel>();
  for (let u = 1; u <= n; u++) models.set(u, demoModel(registers));
  const { path, simulator, close } = await onPty((end) =>
    RtuSlaveSimulator.open({ path: end, baudRate: options.baudRate ?? 9600, slaves: models, ...(options.clock ? { clock: options.clock } : {}) }),
  );
  const driverConfig: ModbusDriverInput = {
    name: 'modbus-demo-rtu',
    devices: [...models.keys()].map((unitId) => ({
      name: n === 1 && options.deviceName ? options.deviceName : `sim-rtu-${unitId}`,
      transport: { kind: 'rtu' as const, path, baudRate: options.baudRate ?? 9600 },
      unitId,
      pollMs: options.pollMs ?? 1000,
      timeoutMs: 500,
      points: demoPoints(registers),
    })),
  };
  return { path, simulator, driverConfig, close };
}

/**
 * Opens a pty pair (socat) and a simulator on its far end; the near end is `path`. `close`
 * shuts both, and a simulator that fails to open does not leave socat behind.
 */
async function onPty<S extends { close(): Promise<void> }>(open: (farEnd: string) => Promise<S>): Promise<{ path: string; simulator: S; close(): Promise<void> }> {
  const pty = await openPtyPair();
  let simulator: S;
  try {
    simulator = await open(pty.b);
  } catch (err) {
    await pty.close();
    throw err;
  }
  return {
    path: pty.a,
    simulator,
    close: async () => {
      await simulator.close();
      await pty.close();
    },
  };
}

/**
 * Starts a pty pair with a CSV weather station on one end (`<epoch ms>,<temp>,<rh>` every
 * `periodMs`, its clock `deviceSkewMs` ahead) and returns a SerialLineDriver config for the
 * other end whose `clockOffsetMs` corrects the skew, so readings carry `deviceTime`.
 */
export async function startLineSensorDemo(
  options: { periodMs?: number; deviceSkewMs?: number; clock?: Clock; sensorName?: string } = {},
): Promise<{ path: string; simulator: LineSensorSimulator; driverConfig: SerialLineDriverInput; close(): Promise<void> }> {
  const clock = options.clock ?? systemClock;
  const skew = options.deviceSkewMs ?? 1500;
  const temp: Signal = { kind: 'sine', amplitude: 4, periodMs: 90_000, offset: 18 };
  const rh: Signal = { kind: 'noise', mean: 55, amplitude: 3, holdMs: 5000 };
  const { path, simulator, close } = await onPty((end) =>
    LineSensorSimulator.open({
      path: end,
      clock,
      periodMs: options.periodMs ?? 1000,
      line: (t) => lines.csv(t + skew, signalValue(temp, t).toFixed(2), signalValue(rh, t).toFixed(1)),
    }),
  );
  const driverConfig: SerialLineDriverInput = {
    name: 'serial-line-demo',
    sensors: [
      {
        name: options.sensorName ?? 'weather-1',
        path,
        clockOffsetMs: -skew,
        units: { temp: 'degC', rh: '%' },
        parser: { kind: 'csv', columns: [{ name: 'temp', index: 1 }, { name: 'rh', index: 2 }], timestamp: { index: 0, format: 'epoch-ms' } },
      },
    ],
  };
  return { path, simulator, driverConfig, close };
}
