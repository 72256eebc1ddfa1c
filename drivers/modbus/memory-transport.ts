import { EventEmitter } from 'node:events';
import { systemClock, type Clock, type TimerHandle } from '../../agent/core/clock.js';
import { crcError, type DeviceError, exceptionError, frameError, timeoutError, unavailableError } from '../errors.js';
import type { SlaveEvent, SlaveModel } from '../simulators/slave-model.js';
import { exceptionName } from './pdu.js';
import type { ModbusTransport, TransportStats } from './transport.js';

export interface MemoryTransportOptions {
  /** Unit id → model; a unit not listed never answers. */
  slaves: Map<number, SlaveModel>;
  clock?: Clock;
  description?: string;
}

/**
 * A `ModbusTransport` with no I/O: requests go straight to in-memory `SlaveModel`s, with
 * their fault modes turned into the errors a wire would produce, and every delay taken from
 * the injected clock. With a `ManualClock` a whole schedule (timeouts, backoff, probes) runs
 * deterministically — the scriptable twin of the real transports, like serialport's
 * binding-mock. It passes the same conformance suite.
 */
export class MemoryTransport extends EventEmitter<{ request: [SlaveEvent]; reply: [SlaveEvent] }> implements ModbusTransport {
  readonly description: string;
  private readonly clock: Clock;
  private readonly slaves: Map<number, SlaveModel>;
  private closed = false;
  private chain: Promise<unknown> = Promise.resolve();
  private pending: { reject: (e: DeviceError) => void; timers: TimerHandle[] } | undefined;
  private readonly counters = { requests: 0, strayBytes: 0, crcErrors: 0 };
  private lastError: TransportStats['lastError'];

  constructor(options: MemoryTransportOptions) {
    super();
    this.slaves = options.slaves;
    this.clock = options.clock ?? systemClock;
    this.description = options.description ?? 'memory';
  }

  async open(): Promise<void> {
    if (this.closed) throw unavailableError(`${this.description} is closed`);
  }

  request(unit: number, pdu: Buffer, timeoutMs: number): Promise<Buffer> {
    const run = this.chain.then(() => this.requestNow(unit, pdu, timeoutMs));
    this.chain = run.catch(() => undefined);
    return run;
  }

  private requestNow(unit: number, pdu: Buffer, timeoutMs: number): Promise<Buffer> {
    this.counters.requests++;
    if (this.closed) return Promise.reject(this.note(unavailableError(`${this.description} is closed`)));
    return new Promise<Buffer>((resolve, reject) => {
      const timers: TimerHandle[] = [];
      const done = (err?: DeviceError, data?: Buffer): void => {
        if (this.pending?.reject !== fail) return;
        this.pending = undefined;
        for (const t of timers) this.clock.clearTimeout(t);
        if (err) reject(this.note(err));
        else resolve(data!);
      };
      const fail = (e: DeviceError): void => done(e);
      this.pending = { reject: fail, timers };
      const model = this.slaves.get(unit);
      const at = this.clock.now();
      const fc = pdu[0]!;
      const noAnswer = (): void => {
        timers.push(this.clock.setTimeout(() => done(timeoutError(`unit ${unit} on ${this.description} did not answer within ${timeoutMs} ms`)), timeoutMs));
      };
      if (!model) return noAnswer();
      const ev = { unit, fc, at };
      this.emit('request', ev);
      const fault = model.fault;
      const reply = model.handle(pdu, at);
      const answer = (): void => {
        if (reply[0] === (fc | 0x80)) done(exceptionError(unit, fc, reply[1] ?? 0, exceptionName(reply[1] ?? 0)));
        else done(undefined, reply);
      };
      switch (fault.kind) {
        case 'no-reply':
          return noAnswer();
        case 'bad-crc':
          this.counters.crcErrors++;
          this.emit('reply', ev);
          return done(crcError(`unit ${unit} on ${this.description}: reply failed its CRC check`));
        case 'partial':
          this.emit('reply', ev);
          timers.push(this.clock.setTimeout(() => done(frameError(`unit ${unit} on ${this.description}: incomplete reply within ${timeoutMs} ms`)), timeoutMs));
          return;
        case 'garbage':
        case 'stray-header':
          this.counters.strayBytes += fault.kind === 'garbage' ? (fault.bytes ?? 7) : 3;
          this.emit('reply', ev);
          return answer();
        case 'slow':
          noAnswer();
          if (fault.delayMs >= timeoutMs) {
            // The reply still comes, after the timeout, to nobody: stray bytes.
            this.clock.setTimeout(() => {
              this.counters.strayBytes += reply.length + 3;
              this.emit('reply', ev);
            }, fault.delayMs);
          } else {
            timers.push(
              this.clock.setTimeout(() => {
                this.emit('reply', ev);
                answer();
              }, fault.delayMs),
            );
          }
          return;
        default:
          this.emit('reply', ev);
          return answer();
      }
    });
  }

  private note(e: DeviceError): DeviceError {
    this.lastError = { code: e.code, message: e.message, at: this.clock.now() };
    return e;
  }

  stats(): TransportStats {
    return { open: !this.closed, ...this.counters, reopens: 0, ...(this.lastError ? { lastError: this.lastError } : {}) };
  }

  async close(): Promise<void> {
    this.closed = true;
    this.pending?.reject(unavailableError(`${this.description} closed`));
  }
}
