import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { SerialPort } from 'serialport';
import { systemClock, type Clock, type TimerHandle } from '../../agent/core/clock.js';
import { unavailableError } from '../errors.js';
import { nmeaSentence } from '../serial-line/parsers/nmea.js';

// Bytes a parser may skip (white space) or read as the start of a sentence ($, !).
const NOT_JUNK = new Set([0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x20, 0xa0, 0x24, 0x21]);

/** What the simulated sensor does wrong, switchable at run time. */
export type LineFault =
  | { kind: 'none' }
  /** NMEA: a wrong checksum digit. Other lines: unchanged. */
  | { kind: 'bad-checksum' }
  /**
   * Random bytes before the line. None of them is a delimiter, white space or an NMEA
   * sentence start, so the receiver sees one malformed line, never a different valid one.
   */
  | { kind: 'garbage'; bytes?: number }
  /** Only the first half of the line, no delimiter: it merges into the next one. */
  | { kind: 'partial' }
  /** Sends nothing. */
  | { kind: 'silent' };

export interface LineSensorOptions {
  path: string;
  baudRate?: number;
  clock?: Clock;
  delimiter?: string;
  /** The line to send at time `t` (epoch ms, from the clock). */
  line: (t: number, seq: number) => string;
  /** Send a line every `periodMs` (omit to send only on `send()`). */
  periodMs?: number;
}

/**
 * A line-oriented sensor on a serial port (one end of a pty pair): CSV, JSON, NMEA… whatever
 * `line(t)` returns, with faults. Emits `line` (the text as meant) after each write.
 */
export class LineSensorSimulator extends EventEmitter<{ line: [string] }> {
  fault: LineFault = { kind: 'none' };
  private port: SerialPort | undefined;
  private timer: TimerHandle | undefined;
  private seq = 0;
  private readonly clock: Clock;

  private constructor(private readonly o: LineSensorOptions) {
    super();
    this.clock = o.clock ?? systemClock;
  }

  static async open(o: LineSensorOptions): Promise<LineSensorSimulator> {
    const sim = new LineSensorSimulator(o);
    const port = new SerialPort({ path: o.path, baudRate: o.baudRate ?? 9600, autoOpen: false });
    await new Promise<void>((resolve, reject) => port.open((err) => (err ? reject(unavailableError(`simulator cannot open ${o.path}: ${err.message}`, err)) : resolve())));
    port.on('error', () => undefined);
    sim.port = port;
    if (o.periodMs) sim.schedule(o.periodMs);
    return sim;
  }

  setFault(fault: LineFault): void {
    this.fault = fault;
  }

  private schedule(period: number): void {
    this.timer = this.clock.setTimeout(() => {
      void this.send().then(() => this.port && this.schedule(period));
    }, period);
  }

  /** Sends the next line now (with the current fault); resolves once written. */
  async send(text?: string): Promise<string> {
    const line = text ?? this.o.line(this.clock.now(), this.seq++);
    const delim = this.o.delimiter ?? '\r\n';
    let wire: Buffer;
    switch (this.fault.kind) {
      case 'silent':
        return line;
      case 'bad-checksum': {
        const m = /\*([0-9A-F]{2})$/.exec(line);
        const bad = m ? line.slice(0, -2) + ((parseInt(m[1]!, 16) ^ 0x01).toString(16).toUpperCase().padStart(2, '0')) : line;
        wire = Buffer.from(bad + delim, 'latin1');
        break;
      }
      case 'garbage': {
        const d = Buffer.from(delim, 'latin1');
        const junk = randomBytes(this.fault.bytes ?? 8).map((b) => (d.includes(b) || NOT_JUNK.has(b) ? 0x7e : b));
        wire = Buffer.concat([junk, Buffer.from(line + delim, 'latin1')]);
        break;
      }
      case 'partial':
        wire = Buffer.from(line.slice(0, Math.max(1, line.length >> 1)), 'latin1');
        break;
      default:
        wire = Buffer.from(line + delim, 'latin1');
    }
    const port = this.port;
    if (!port?.isOpen) return line;
    await new Promise<void>((resolve) => port.write(wire, () => port.drain(() => resolve())));
    this.emit('line', line);
    return line;
  }

  async close(): Promise<void> {
    if (this.timer) this.clock.clearTimeout(this.timer);
    const port = this.port;
    this.port = undefined;
    if (port?.isOpen) await new Promise<void>((resolve) => port.close(() => resolve()));
  }
}

/** Helpers to make realistic lines. */
export const lines = {
  csv: (...cells: Array<string | number>): string => cells.join(','),
  json: (obj: Record<string, unknown>): string => JSON.stringify(obj),
  /** `$GPRMC` with the given UTC time and position. */
  rmc(t: number, lat: number, lon: number, speedKnots = 0, course = 0): string {
    const d = new Date(t);
    const p2 = (n: number): string => String(n).padStart(2, '0');
    const time = `${p2(d.getUTCHours())}${p2(d.getUTCMinutes())}${p2(d.getUTCSeconds())}.${String(d.getUTCMilliseconds()).padStart(3, '0').slice(0, 2)}`;
    const date = `${p2(d.getUTCDate())}${p2(d.getUTCMonth() + 1)}${p2(d.getUTCFullYear() % 100)}`;
    const fmt = (v: number, degDigits: number): string => {
      const a = Math.abs(v);
      const deg = Math.floor(a);
      return `${String(deg).padStart(degDigits, '0')}${((a - deg) * 60).toFixed(4).padStart(7, '0')}`;
    };
    return nmeaSentence(`GPRMC,${time},A,${fmt(lat, 2)},${lat < 0 ? 'S' : 'N'},${fmt(lon, 3)},${lon < 0 ? 'W' : 'E'},${speedKnots.toFixed(1)},${course.toFixed(1)},${date},,,A`);
  },
  mtw: (tempC: number): string => nmeaSentence(`YXMTW,${tempC.toFixed(1)},C`),
};
