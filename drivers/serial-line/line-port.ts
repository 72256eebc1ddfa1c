import { EventEmitter } from 'node:events';
import { SerialPort } from 'serialport';
import type { Backoff } from '../../agent/core/backoff.js';
import type { Clock, TimerHandle } from '../../agent/core/clock.js';
import { doublingBackoff } from '../backoff.js';
import type { ReopenOptions } from '../modbus/transport.js';

export interface LinePortOptions {
  path: string;
  baudRate: number;
  parity: 'none' | 'even' | 'odd';
  dataBits: 7 | 8;
  stopBits: 1 | 2;
  clock: Clock;
  reopen: ReopenOptions;
}

/**
 * A receive-only serial port that stays open: it opens the path (afresh each time, so a
 * by-id symlink is followed to wherever it points now), and when the port fails to open or
 * vanishes it tries again with doubling backoff. Events: `data` (chunk), `open`, `lost` (reason).
 * `pause`/`resume` pass backpressure down to the OS buffer.
 */
export class LinePort extends EventEmitter<{ data: [Buffer]; open: []; lost: [string] }> {
  private port: SerialPort | undefined;
  private timer: TimerHandle | undefined;
  private readonly backoff: Backoff;
  private closed = false;
  private paused = false;
  reopens = 0;
  private everOpened = false;

  constructor(private readonly o: LinePortOptions) {
    super();
    this.backoff = doublingBackoff(o.reopen.baseMs, o.reopen.maxMs);
  }

  get isOpen(): boolean {
    return Boolean(this.port?.isOpen);
  }

  /** Resolves after the first attempt (open or not: later attempts run in the background). */
  start(): Promise<void> {
    return this.attempt();
  }

  private attempt(): Promise<void> {
    return new Promise<void>((resolve) => {
      if (this.closed) return resolve();
      const port = new SerialPort({ path: this.o.path, baudRate: this.o.baudRate, parity: this.o.parity, dataBits: this.o.dataBits, stopBits: this.o.stopBits, autoOpen: false });
      port.open((err) => {
        if (err || this.closed) {
          if (!err) port.close(() => undefined);
          if (err) this.lost(`cannot open ${this.o.path}: ${err.message.replace(/^Error: /, '').replace(/, cannot open .*$/, '')}`);
          return resolve();
        }
        if (this.everOpened) this.reopens++;
        this.everOpened = true;
        this.backoff.reset();
        this.port = port;
        port.on('data', (chunk: Buffer) => this.emit('data', chunk));
        const onGone = (e?: Error | null): void => {
          if (this.port !== port) return;
          this.port = undefined;
          if (port.isOpen) port.close(() => undefined);
          this.lost(`serial port ${this.o.path} went away${e ? `: ${e.message}` : ''}`);
        };
        port.on('error', onGone);
        port.on('close', onGone);
        if (this.paused) port.pause();
        this.emit('open');
        resolve();
      });
    });
  }

  private lost(reason: string): void {
    this.emit('lost', reason);
    if (this.closed || this.timer) return;
    const delay = this.backoff.next();
    this.timer = this.o.clock.setTimeout(() => {
      this.timer = undefined;
      void this.attempt();
    }, delay);
  }

  pause(): void {
    this.paused = true;
    this.port?.pause();
  }

  resume(): void {
    this.paused = false;
    this.port?.resume();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) this.o.clock.clearTimeout(this.timer);
    this.timer = undefined;
    const port = this.port;
    this.port = undefined;
    if (port?.isOpen) await new Promise<void>((resolve) => port.close(() => resolve()));
  }
}
