import { EventEmitter } from 'node:events';
import { SerialPort } from 'serialport';
import { systemClock, type Clock } from '../../agent/core/clock.js';
import { unavailableError } from '../errors.js';
import { withCrc } from '../modbus/crc.js';
import { RtuFrameDecoder } from '../modbus/rtu-frame.js';
import { faultyWire } from './fault-bytes.js';
import type { SlaveEvent, SlaveModel } from './slave-model.js';

export interface RtuSimulatorOptions {
  /** The simulator's end of the line (one side of a pty pair, or a real port). */
  path: string;
  baudRate?: number;
  parity?: 'none' | 'even' | 'odd';
  clock?: Clock;
  /** Unit id → model; a unit not listed is a dead slave (never answers). */
  slaves?: Map<number, SlaveModel> | Record<number, SlaveModel>;
}

/**
 * A bus of simulated Modbus RTU slaves on one serial port. Emits `request` ({unit, fc, at})
 * for every well-formed request addressed to one of its slaves (before faults apply) and
 * `reply` after the reply is written, so tests can count polls without sleeping.
 */
export class RtuSlaveSimulator extends EventEmitter<{ request: [SlaveEvent]; reply: [SlaveEvent] }> {
  readonly slaves: Map<number, SlaveModel>;
  readonly path: string;
  private readonly clock: Clock;
  private readonly decoder = new RtuFrameDecoder('request');
  private port: SerialPort | undefined;
  private chain: Promise<void> = Promise.resolve();

  private constructor(options: RtuSimulatorOptions) {
    super();
    this.path = options.path;
    this.clock = options.clock ?? systemClock;
    const s = options.slaves ?? new Map<number, SlaveModel>();
    this.slaves = s instanceof Map ? s : new Map(Object.entries(s).map(([k, v]) => [Number(k), v]));
  }

  static async open(options: RtuSimulatorOptions): Promise<RtuSlaveSimulator> {
    const sim = new RtuSlaveSimulator(options);
    const port = new SerialPort({ path: options.path, baudRate: options.baudRate ?? 9600, parity: options.parity ?? 'none', autoOpen: false });
    await new Promise<void>((resolve, reject) =>
      port.open((err) => (err ? reject(unavailableError(`simulator cannot open ${options.path}: ${err.message}`, err)) : resolve())),
    );
    sim.port = port;
    port.on('data', (chunk: Buffer) => sim.onData(chunk));
    port.on('error', () => undefined);
    return sim;
  }

  private onData(chunk: Buffer): void {
    for (const frame of this.decoder.push(chunk)) {
      const model = this.slaves.get(frame.unit);
      if (!model) continue;
      const at = this.clock.now();
      const ev = { unit: frame.unit, fc: frame.pdu[0]!, at };
      this.emit('request', ev);
      const fault = model.fault;
      const reply = withCrc(Buffer.concat([Buffer.from([frame.unit]), model.handle(frame.pdu, at)]));
      const wire = faultyWire(reply, fault, 'rtu');
      if (!wire) continue;
      const delay = fault.kind === 'slow' ? fault.delayMs : 0;
      // Replies leave in request order, even when one of them is slow.
      this.chain = this.chain.then(() => this.send(wire, delay)).then(() => void this.emit('reply', ev));
    }
  }

  private send(wire: Buffer, delayMs: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const go = (): void => {
        const port = this.port;
        if (!port?.isOpen) return resolve();
        port.write(wire, () => port.drain(() => resolve()));
      };
      if (delayMs > 0) this.clock.setTimeout(go, delayMs);
      else go();
    });
  }

  /** Writes raw bytes onto the line (noise on the bus). */
  inject(bytes: Buffer): Promise<void> {
    return this.send(bytes, 0);
  }

  async close(): Promise<void> {
    const port = this.port;
    this.port = undefined;
    if (port?.isOpen) await new Promise<void>((resolve) => port.close(() => resolve()));
  }
}
