import net from 'node:net';
import type { Backoff } from '../../agent/core/backoff.js';
import { systemClock, type Clock, type TimerHandle } from '../../agent/core/clock.js';
import { doublingBackoff } from '../backoff.js';
import { DeviceError, exceptionError, frameError, timeoutError, unavailableError } from '../errors.js';
import { exceptionName } from './pdu.js';
import type { ModbusTransport, ReopenOptions, TransportStats } from './transport.js';

export interface TcpTransportOptions {
  host: string;
  port?: number;
  clock?: Clock;
  /** Backoff between reconnect attempts after a refused or lost connection. */
  reopen?: ReopenOptions | false;
  /** Connect timeout; defaults to the first request's timeout. */
  connectTimeoutMs?: number;
}

interface Pending {
  unit: number;
  fc: number;
  resolve: (pdu: Buffer) => void;
  reject: (err: DeviceError) => void;
  timer: TimerHandle;
}

/**
 * Modbus TCP client: MBAP framing, requests pipelined by transaction id over one connection
 * (the bus above limits how many are in flight). A late reply is matched by id and dropped;
 * a malformed header means the stream is out of step, so the connection is dropped and made
 * again (TCP's way to resync).
 */
export class TcpTransport implements ModbusTransport {
  readonly description: string;
  private readonly clock: Clock;
  private socket: net.Socket | undefined;
  private connecting: Promise<net.Socket> | undefined;
  private buf: Buffer = Buffer.alloc(0);
  private nextTx = 1;
  private readonly pending = new Map<number, Pending>();
  private closed = false;
  private retryAt = 0;
  private readonly reopenBackoff: Backoff | undefined;
  private everConnected = false;
  private readonly counters = { requests: 0, reopens: 0, strayBytes: 0 };
  private lastError: TransportStats['lastError'];

  constructor(private readonly options: TcpTransportOptions) {
    this.description = `${options.host}:${options.port ?? 502}`;
    this.clock = options.clock ?? systemClock;
    this.reopenBackoff = options.reopen ? doublingBackoff(options.reopen.baseMs, options.reopen.maxMs) : undefined;
  }

  async open(): Promise<void> {
    await this.connect(this.options.connectTimeoutMs ?? 3000);
  }

  private connect(timeoutMs: number): Promise<net.Socket> {
    if (this.closed) return Promise.reject(unavailableError(`connection to ${this.description} is closed`));
    if (this.socket) return Promise.resolve(this.socket);
    if (this.connecting) return this.connecting;
    const now = this.clock.now();
    if (now < this.retryAt) {
      const err = unavailableError(`${this.description} unreachable; next attempt in ${this.retryAt - now} ms`);
      err.retryAt = this.retryAt;
      return Promise.reject(err);
    }
    this.connecting = new Promise<net.Socket>((resolve, reject) => {
      const sock = net.connect({ host: this.options.host, port: this.options.port ?? 502 });
      sock.setNoDelay(true);
      const timer = this.clock.setTimeout(() => {
        sock.destroy();
        fail(timeoutError(`connecting to ${this.description} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      const fail = (e: DeviceError): void => {
        this.clock.clearTimeout(timer);
        this.connecting = undefined;
        this.noteError(e);
        if (this.reopenBackoff) this.retryAt = this.clock.now() + this.reopenBackoff.next();
        reject(e);
      };
      sock.once('error', (err) => fail(unavailableError(`cannot connect to ${this.description}: ${err.message}`)));
      sock.once('connect', () => {
        this.clock.clearTimeout(timer);
        sock.removeAllListeners('error');
        this.connecting = undefined;
        if (this.closed) {
          sock.destroy();
          reject(unavailableError(`connection to ${this.description} is closed`));
          return;
        }
        if (this.everConnected) this.counters.reopens++;
        this.everConnected = true;
        this.reopenBackoff?.reset();
        this.retryAt = 0;
        this.socket = sock;
        this.buf = Buffer.alloc(0);
        sock.on('data', (chunk: Buffer) => this.onData(sock, chunk));
        sock.on('error', (err) => this.drop(sock, unavailableError(`connection to ${this.description} failed: ${err.message}`, err)));
        sock.on('close', () => this.drop(sock, unavailableError(`connection to ${this.description} closed by peer`)));
        resolve(sock);
      });
    });
    return this.connecting;
  }

  async request(unit: number, pdu: Buffer, timeoutMs: number): Promise<Buffer> {
    this.counters.requests++;
    let sock: net.Socket;
    try {
      sock = await this.connect(this.options.connectTimeoutMs ?? timeoutMs);
    } catch (err) {
      throw err instanceof DeviceError ? err : unavailableError(`cannot connect to ${this.description}`, err);
    }
    const tx = this.nextTx;
    this.nextTx = (this.nextTx % 0xffff) + 1;
    const frame = Buffer.alloc(7 + pdu.length);
    frame.writeUInt16BE(tx, 0);
    frame.writeUInt16BE(0, 2);
    frame.writeUInt16BE(pdu.length + 1, 4);
    frame[6] = unit;
    pdu.copy(frame, 7);
    return new Promise<Buffer>((resolve, reject) => {
      const timer = this.clock.setTimeout(() => {
        if (this.pending.get(tx) !== p) return;
        if (this.buf.length > 0 && this.socket === sock) {
          // Half a frame sits in the buffer: the stream is out of step. Start afresh.
          this.counters.strayBytes += this.buf.length;
          this.drop(sock, frameError(`unit ${unit} at ${this.description}: incomplete reply (${this.buf.length} bytes) within ${timeoutMs} ms`));
          return;
        }
        this.pending.delete(tx);
        const e = timeoutError(`unit ${unit} at ${this.description} did not answer within ${timeoutMs} ms`);
        this.noteError(e);
        reject(e);
      }, timeoutMs);
      const p: Pending = { unit, fc: pdu[0]!, resolve, reject, timer };
      this.pending.set(tx, p);
      sock.write(frame);
    });
  }

  private onData(sock: net.Socket, chunk: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    while (this.buf.length >= 7) {
      const proto = this.buf.readUInt16BE(2);
      const len = this.buf.readUInt16BE(4);
      if (proto !== 0 || len < 2 || len > 254) {
        this.counters.strayBytes += this.buf.length;
        this.drop(sock, frameError(`malformed MBAP header from ${this.description} (protocol ${proto}, length ${len})`));
        return;
      }
      if (this.buf.length < 6 + len) return;
      const tx = this.buf.readUInt16BE(0);
      const unit = this.buf[6]!;
      const pdu = Buffer.from(this.buf.subarray(7, 6 + len));
      this.buf = this.buf.subarray(6 + len);
      const p = this.pending.get(tx);
      if (!p) {
        this.counters.strayBytes += 6 + len; // a reply to a request that already timed out
        continue;
      }
      this.pending.delete(tx);
      this.clock.clearTimeout(p.timer);
      let err: DeviceError | undefined;
      if (unit !== p.unit) err = frameError(`reply for transaction ${tx} came from unit ${unit}, expected ${p.unit}`);
      else if (pdu[0] === (p.fc | 0x80)) err = exceptionError(p.unit, p.fc, pdu[1] ?? 0, exceptionName(pdu[1] ?? 0));
      else if (pdu[0] !== p.fc) err = frameError(`unit ${unit} at ${this.description}: reply has function ${pdu[0]}, expected ${p.fc}`);
      if (err) {
        this.noteError(err);
        p.reject(err);
      } else {
        p.resolve(pdu);
      }
    }
  }

  /** Forgets a broken connection; pending requests fail, the next request reconnects. */
  private drop(sock: net.Socket, err: DeviceError): void {
    if (this.socket !== sock) return;
    this.socket = undefined;
    sock.destroy();
    this.noteError(err);
    for (const [tx, p] of this.pending) {
      this.pending.delete(tx);
      this.clock.clearTimeout(p.timer);
      p.reject(err);
    }
  }

  private noteError(err: DeviceError): void {
    this.lastError = { code: err.code, message: err.message, at: this.clock.now() };
  }

  stats(): TransportStats {
    return {
      open: this.socket !== undefined,
      requests: this.counters.requests,
      strayBytes: this.counters.strayBytes,
      crcErrors: 0,
      reopens: this.counters.reopens,
      ...(this.lastError ? { lastError: this.lastError } : {}),
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.connecting?.catch(() => undefined);
    const sock = this.socket;
    if (sock) {
      this.drop(sock, unavailableError(`connection to ${this.description} closed`));
      await new Promise<void>((resolve) => (sock.closed ? resolve() : sock.once('close', () => resolve())));
    }
  }
}
