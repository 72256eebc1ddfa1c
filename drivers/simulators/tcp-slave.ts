import { EventEmitter } from 'node:events';
import net from 'node:net';
import { systemClock, type Clock } from '../../agent/core/clock.js';
import { faultyWire } from './fault-bytes.js';
import type { SlaveEvent, SlaveModel } from './slave-model.js';

export interface TcpSimulatorOptions {
  host?: string;
  /** 0 (default) picks a free port. */
  port?: number;
  clock?: Clock;
  /** Unit id → model; requests for other units get no reply (like a dead slave behind a gateway). */
  slaves?: Map<number, SlaveModel> | Record<number, SlaveModel>;
}

/** A Modbus TCP server over simulated slaves. Emits `request` and `reply` like the RTU one. */
export class TcpSlaveSimulator extends EventEmitter<{ request: [SlaveEvent]; reply: [SlaveEvent] }> {
  readonly slaves: Map<number, SlaveModel>;
  host = '127.0.0.1';
  port = 0;
  private readonly clock: Clock;
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();

  private constructor(options: TcpSimulatorOptions) {
    super();
    this.clock = options.clock ?? systemClock;
    const s = options.slaves ?? new Map<number, SlaveModel>();
    this.slaves = s instanceof Map ? s : new Map(Object.entries(s).map(([k, v]) => [Number(k), v]));
    this.server = net.createServer((sock) => this.onConnection(sock));
  }

  static async listen(options: TcpSimulatorOptions = {}): Promise<TcpSlaveSimulator> {
    const sim = new TcpSlaveSimulator(options);
    await new Promise<void>((resolve, reject) => {
      sim.server.once('error', reject);
      sim.server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
    });
    const addr = sim.server.address() as net.AddressInfo;
    sim.host = addr.address;
    sim.port = addr.port;
    return sim;
  }

  /** Open client connections (tests use it to check that a dropped connection is redone). */
  get connections(): number {
    return this.sockets.size;
  }

  private onConnection(sock: net.Socket): void {
    this.sockets.add(sock);
    sock.setNoDelay(true);
    sock.on('close', () => this.sockets.delete(sock));
    sock.on('error', () => undefined);
    let buf = Buffer.alloc(0);
    let chain = Promise.resolve();
    sock.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= 7) {
        const len = buf.readUInt16BE(4);
        if (buf.readUInt16BE(2) !== 0 || len < 2 || len > 254) {
          sock.destroy(); // out of step: a real server drops the connection
          return;
        }
        if (buf.length < 6 + len) break;
        const header = Buffer.from(buf.subarray(0, 7));
        const unit = header[6]!;
        const pdu = Buffer.from(buf.subarray(7, 6 + len));
        buf = buf.subarray(6 + len);
        const model = this.slaves.get(unit);
        if (!model) continue;
        const at = this.clock.now();
        const ev = { unit, fc: pdu[0]!, at };
        this.emit('request', ev);
        const reply = model.handle(pdu, at);
        const frame = Buffer.concat([header, reply]);
        frame.writeUInt16BE(reply.length + 1, 4);
        const fault = model.fault;
        const wire = faultyWire(frame, fault, 'tcp');
        if (!wire) continue;
        const delay = fault.kind === 'slow' ? fault.delayMs : 0;
        const send = (): void => {
          if (!sock.destroyed) sock.write(wire);
          this.emit('reply', ev);
        };
        if (delay > 0) this.clock.setTimeout(send, delay);
        else chain = chain.then(send);
      }
    });
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
