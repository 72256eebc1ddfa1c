import type { SerialPort } from 'serialport';
import { systemClock, type Clock, type TimerHandle } from '../../agent/core/clock.js';
import type { Backoff } from '../../agent/core/backoff.js';
import { doublingBackoff } from '../backoff.js';
import { crcError, type DeviceError, exceptionError, frameError, timeoutError, unavailableError } from '../errors.js';
import { withCrc } from './crc.js';
import { exceptionName } from './pdu.js';
import { RtuFrameDecoder } from './rtu-frame.js';
import type { ModbusTransport, ReopenOptions, TransportStats } from './transport.js';

export interface RtuTransportOptions {
  path: string;
  baudRate?: number;
  parity?: 'none' | 'even' | 'odd';
  dataBits?: 7 | 8;
  stopBits?: 1 | 2;
  clock?: Clock;
  /** Keep reopening a port that failed to open or vanished. Off for one-shot use (the probe). */
  reopen?: ReopenOptions | false;
}

interface Pending {
  unit: number;
  fc: number;
  resolve: (pdu: Buffer) => void;
  reject: (err: DeviceError) => void;
  timer?: TimerHandle;
  settle?: TimerHandle;
  crcAtStart: number;
  strayAtStart: number;
}

/**
 * Modbus RTU master over a serial port, with our own framing (see README: the decoder finds
 * frames by length and CRC, so it resynchronises after stray bytes and reports CRC errors,
 * partial frames and timeouts separately). One request on the line at a time.
 */
export class RtuTransport implements ModbusTransport {
  readonly description: string;
  private readonly clock: Clock;
  private port: SerialPort | undefined;
  private opening: Promise<void> | undefined;
  private readonly decoder = new RtuFrameDecoder('response');
  private pending: Pending | undefined;
  private chain: Promise<unknown> = Promise.resolve();
  private closed = false;
  private reopenTimer: TimerHandle | undefined;
  private readonly reopenBackoff: Backoff | undefined;
  private everOpened = false;
  private readonly counters = { requests: 0, reopens: 0, strayBytesWhileIdle: 0 };
  private lastError: TransportStats['lastError'];
  /** Milliseconds one character takes on the wire (start + data + parity + stop bits). */
  private readonly charMs: number;

  constructor(private readonly options: RtuTransportOptions) {
    this.description = options.path;
    this.clock = options.clock ?? systemClock;
    this.reopenBackoff = options.reopen ? doublingBackoff(options.reopen.baseMs, options.reopen.maxMs) : undefined;
    const bits = 1 + (options.dataBits ?? 8) + (options.parity && options.parity !== 'none' ? 1 : 0) + (options.stopBits ?? 1);
    this.charMs = (bits * 1000) / (options.baudRate ?? 9600);
  }

  open(): Promise<void> {
    if (this.closed) return Promise.reject(unavailableError(`port ${this.description} is closed`));
    if (this.port?.isOpen) return Promise.resolve();
    this.opening ??= this.openOnce().finally(() => {
      this.opening = undefined;
    });
    return this.opening;
  }

  private async openOnce(): Promise<void> {
    // Loaded at the first open, not with the module: a Modbus TCP gateway never pays for it.
    const { SerialPort } = await import('serialport');
    return new Promise<void>((resolve, reject) => {
      // A new SerialPort each time: the path (maybe a by-id symlink) is resolved afresh.
      const port = new SerialPort({
        path: this.options.path,
        baudRate: this.options.baudRate ?? 9600,
        parity: this.options.parity ?? 'none',
        dataBits: this.options.dataBits ?? 8,
        stopBits: this.options.stopBits ?? 1,
        autoOpen: false,
      });
      port.open((err) => {
        if (err) {
          // The reason is in the message; no cause, so the probe prints one line.
          const e = unavailableError(`cannot open serial port ${this.description}: ${err.message.replace(/^Error: /, '').replace(/, cannot open .*$/, '')}`);
          this.noteError(e);
          this.scheduleReopen();
          reject(e);
          return;
        }
        if (this.closed) {
          port.close(() => undefined);
          reject(unavailableError(`port ${this.description} is closed`));
          return;
        }
        if (this.everOpened) this.counters.reopens++;
        this.everOpened = true;
        this.reopenBackoff?.reset();
        this.port = port;
        port.on('data', (chunk: Buffer) => this.onData(chunk));
        port.on('error', (e: Error) => this.onLost(port, e));
        port.on('close', (e?: Error | null) => this.onLost(port, e ?? undefined));
        resolve();
      });
    });
  }

  private onLost(port: SerialPort, err: Error | undefined): void {
    if (this.port !== port) return;
    this.port = undefined;
    port.removeAllListeners('data');
    if (port.isOpen) port.close(() => undefined);
    const e = unavailableError(`serial port ${this.description} went away${err ? `: ${err.message}` : ''}`, err);
    this.noteError(e);
    this.failPending(e);
    this.scheduleReopen();
  }

  private scheduleReopen(): void {
    if (!this.reopenBackoff || this.closed || this.reopenTimer) return;
    const delay = this.reopenBackoff.next();
    this.reopenTimer = this.clock.setTimeout(() => {
      this.reopenTimer = undefined;
      this.open().catch(() => undefined); // a failure schedules the next attempt
    }, delay);
  }

  request(unit: number, pdu: Buffer, timeoutMs: number): Promise<Buffer> {
    const run = this.chain.then(
      () => this.requestNow(unit, pdu, timeoutMs),
      () => this.requestNow(unit, pdu, timeoutMs),
    );
    this.chain = run.catch(() => undefined);
    return run;
  }

  private requestNow(unit: number, pdu: Buffer, timeoutMs: number): Promise<Buffer> {
    this.counters.requests++;
    const port = this.port;
    if (this.closed || !port?.isOpen) {
      const retry = this.reopenTimer ? ' (reopening with backoff)' : '';
      const e = unavailableError(`serial port ${this.description} is not open${retry}`);
      this.noteError(e);
      return Promise.reject(e);
    }
    // Whatever is buffered now is not the reply to this request.
    this.decoder.reset();
    const fc = pdu[0]!;
    const isRead = fc >= 1 && fc <= 4 && pdu.length >= 5;
    const count = isRead ? pdu.readUInt16BE(3) : 0;
    this.decoder.expectReply(unit, fc, isRead ? (fc <= 2 ? Math.ceil(count / 8) : count * 2) : undefined);
    const frame = withCrc(Buffer.concat([Buffer.from([unit]), pdu]));
    return new Promise<Buffer>((resolve, reject) => {
      const p: Pending = { unit, fc: pdu[0]!, resolve, reject, crcAtStart: this.decoder.crcErrors, strayAtStart: this.decoder.strayBytes };
      this.pending = p;
      // The timeout starts once our frame has left, plus its own wire time.
      const wireMs = Math.ceil(frame.length * this.charMs);
      p.timer = this.clock.setTimeout(() => this.onTimeout(p, timeoutMs), timeoutMs + wireMs);
      port.write(frame, (err) => {
        if (err && this.pending === p) this.finish(p, unavailableError(`write to ${this.description} failed: ${err.message}`, err));
      });
    });
  }

  private onData(chunk: Buffer): void {
    const p = this.pending;
    if (!p) {
      // Nobody asked: noise or a reply that came after its timeout.
      this.counters.strayBytesWhileIdle += chunk.length;
      return;
    }
    const frames = this.decoder.push(chunk);
    const frame = frames[0];
    if (frame) {
      if (frame.pdu[0] === (p.fc | 0x80)) {
        const code = frame.pdu[1] ?? 0;
        this.finish(p, exceptionError(p.unit, p.fc, code, exceptionName(code)));
      } else {
        this.finish(p, undefined, frame.pdu);
      }
      return;
    }
    if (this.decoder.crcErrors > p.crcAtStart) {
      // A complete reply with a bad CRC: wait a few character times for a good frame to
      // follow (resync), then report the CRC error instead of waiting out the timeout.
      if (p.settle) this.clock.clearTimeout(p.settle);
      p.settle = this.clock.setTimeout(() => {
        if (this.pending === p) this.finish(p, crcError(`unit ${p.unit} on ${this.description}: reply failed its CRC check`));
      }, Math.max(20, Math.ceil(this.charMs * 8)));
    }
  }

  private onTimeout(p: Pending, timeoutMs: number): void {
    if (this.pending !== p) return;
    const partial = this.decoder.pending;
    if (this.decoder.crcErrors > p.crcAtStart) {
      this.finish(p, crcError(`unit ${p.unit} on ${this.description}: reply failed its CRC check`));
    } else if (partial > 0) {
      this.finish(p, frameError(`unit ${p.unit} on ${this.description}: incomplete reply (${partial} bytes) within ${timeoutMs} ms`));
    } else if (this.decoder.strayBytes > p.strayAtStart) {
      this.finish(p, frameError(`unit ${p.unit} on ${this.description}: only stray bytes, no valid reply within ${timeoutMs} ms`));
    } else {
      this.finish(p, timeoutError(`unit ${p.unit} on ${this.description} did not answer within ${timeoutMs} ms`));
    }
  }

  private finish(p: Pending, err?: DeviceError, pdu?: Buffer): void {
    if (this.pending !== p) return;
    this.pending = undefined;
    if (p.timer) this.clock.clearTimeout(p.timer);
    if (p.settle) this.clock.clearTimeout(p.settle);
    this.decoder.clearExpectation();
    if (err) {
      this.noteError(err);
      p.reject(err);
    } else {
      p.resolve(pdu!);
    }
  }

  private failPending(err: DeviceError): void {
    if (this.pending) this.finish(this.pending, err);
  }

  private noteError(err: DeviceError): void {
    this.lastError = { code: err.code, message: err.message, at: this.clock.now() };
  }

  stats(): TransportStats {
    return {
      open: Boolean(this.port?.isOpen),
      requests: this.counters.requests,
      strayBytes: this.decoder.strayBytes + this.counters.strayBytesWhileIdle,
      crcErrors: this.decoder.crcErrors,
      reopens: this.counters.reopens,
      ...(this.lastError ? { lastError: this.lastError } : {}),
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.reopenTimer) this.clock.clearTimeout(this.reopenTimer);
    this.reopenTimer = undefined;
    this.failPending(unavailableError(`serial port ${this.description} closed`));
    await this.opening?.catch(() => undefined);
    const port = this.port;
    this.port = undefined;
    if (port?.isOpen) {
      await new Promise<void>((resolve) => port.close((err) => (err ? resolve() : resolve())));
    }
  }
}
