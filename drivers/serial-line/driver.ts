import { systemClock, type Clock } from '../../agent/core/clock.js';
import type { Driver, DriverHealth, DriverState, ReadingSink, SourceHealth } from '../../agent/core/driver.js';
import { EdgeError, errorMessage, isEdgeError, type EdgeErrorCode } from '../../agent/core/errors.js';
import { silentLogger, type Logger } from '../../agent/core/logger.js';
import type { Reading } from '../../agent/core/reading.js';
import { DeviceError } from '../errors.js';
import { parseSerialLineConfig, type SensorConfig, type SerialLineDriverConfig } from './config.js';
import { LineFramer } from './framer.js';
import { LinePort } from './line-port.js';
import type { LineParser } from './parser.js';

export interface SerialLineDriverOptions {
  clock?: Clock;
  logger?: Logger;
}

interface Sensor {
  config: SensorConfig;
  parser: LineParser;
  framer: LineFramer;
  port: LinePort;
  health: SourceHealth;
  lastOk: boolean | undefined;
}

/**
 * Line-oriented serial sensors (CSV, regex, JSON lines, NMEA 0183). Every line becomes one
 * reading per value, stamped `receivedAt` on arrival and `deviceTime` (plus the configured
 * clock offset) when the line carries the device's own timestamp. A line that fails to parse
 * or its checksum becomes bad readings. Readings go to the sink in batches, one call at a
 * time; while the sink is busy they queue, and above `highWater` the ports are paused so the
 * OS buffer (and then the sensor's flow control) takes the backpressure.
 */
export class SerialLineDriver implements Driver {
  readonly name: string;
  readonly config: SerialLineDriverConfig;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly sensors: Sensor[] = [];
  private sink: ReadingSink | undefined;
  private queue: Reading[] = [];
  private sending: Promise<void> | undefined;
  private state: DriverState = 'stopped';
  private paused = false;
  private stopping = false;
  /** Readings the sink refused and that were put back at the head of the queue. */
  requeued = 0;

  constructor(config: unknown, options: SerialLineDriverOptions = {}) {
    const cfg = parseSerialLineConfig(config);
    this.config = cfg;
    this.name = cfg.name;
    this.clock = options.clock ?? systemClock;
    this.log = (options.logger ?? silentLogger).child({ driver: this.name });
    for (const s of cfg.sensors) {
      const port = new LinePort({ path: s.path, baudRate: s.baudRate, parity: s.parity, dataBits: s.dataBits, stopBits: s.stopBits, clock: this.clock, reopen: cfg.reopen });
      this.sensors.push({
        config: s,
        parser: cfg.parsers.get(s.name)!,
        framer: new LineFramer(s.delimiter, s.maxLineLength),
        port,
        health: { state: 'unknown', polls: 0, errors: 0, errorsByCode: {} },
        lastOk: undefined,
      });
    }
  }

  async start(sink: ReadingSink): Promise<void> {
    if (this.sink) throw new TypeError(`driver ${this.name} is already started`);
    this.sink = sink;
    this.state = 'starting';
    for (const s of this.sensors) {
      s.port.on('data', (chunk) => this.onData(s, chunk));
      s.port.on('lost', (reason) => {
        s.lastOk = false;
        this.count(s, new DeviceError('EDGE_DEVICE_UNAVAILABLE', reason));
        this.log.warn({ sensor: s.config.name, reason }, 'serial port lost; reopening with backoff');
      });
    }
    await Promise.all(this.sensors.map((s) => s.port.start()));
    this.state = 'running';
  }

  /** Feeds raw bytes as if they came from the sensor's port (tests, replays). */
  inject(sensor: string, chunk: Buffer): void {
    const s = this.sensors.find((x) => x.config.name === sensor);
    if (!s) throw new TypeError(`no sensor named ${sensor}`);
    this.onData(s, chunk);
  }

  private onData(s: Sensor, chunk: Buffer): void {
    const receivedAt = this.clock.now();
    for (const line of s.framer.push(chunk)) this.enqueue(this.readingsFor(s, line, receivedAt));
  }

  private readingsFor(s: Sensor, line: string, receivedAt: number): Reading[] {
    const { config } = s;
    s.health.polls++;
    try {
      const parsed = s.parser.parse(line);
      if (!parsed) return [];
      if ('skipped' in parsed) {
        const skipped = (s.health.skipped ??= { lines: {}, because: parsed.because });
        skipped.lines[parsed.skipped] = (skipped.lines[parsed.skipped] ?? 0) + 1;
        skipped.because = parsed.because;
        return [];
      }
      s.lastOk = true;
      s.health.lastGoodAt = receivedAt;
      return Object.entries(parsed.values).map(([point, value]) => {
        const r: Reading = { source: config.name, point, value, quality: 'good', receivedAt };
        if (parsed.deviceTime !== undefined) r.deviceTime = parsed.deviceTime + config.clockOffsetMs;
        const unit = config.units[point];
        if (unit !== undefined) r.unit = unit;
        return r;
      });
    } catch (err) {
      const e = err instanceof EdgeError ? err : new DeviceError('EDGE_DEVICE_FRAME', errorMessage(err));
      s.lastOk = false;
      this.count(s, e);
      const points = s.parser.points.length ? s.parser.points : ['$line'];
      return points.map((point) => {
        const r: Reading = { source: config.name, point, value: null, quality: 'bad', error: { code: e.code, message: e.message }, receivedAt };
        const unit = config.units[point];
        if (unit !== undefined) r.unit = unit;
        return r;
      });
    }
  }

  private count(s: Sensor, e: { code: EdgeErrorCode | string; message: string }): void {
    s.health.errors++;
    s.health.errorsByCode[e.code] = (s.health.errorsByCode[e.code] ?? 0) + 1;
    s.health.lastError = { code: e.code, message: e.message, at: this.clock.now() };
  }

  private enqueue(readings: Reading[]): void {
    if (readings.length === 0) return;
    this.queue.push(...readings);
    if (this.queue.length >= this.config.highWater && !this.paused) {
      this.paused = true;
      for (const s of this.sensors) s.port.pause();
    }
    this.pump();
  }

  private pump(): void {
    if (this.sending || !this.sink || this.queue.length === 0) return;
    const batch = this.queue;
    this.queue = [];
    this.sending = this.sink(batch).then(
      () => undefined,
      (err: unknown) => {
        if (this.stopping) {
          this.log.warn({ err: errorMessage(err), readings: batch.length }, 'sink refused readings while stopping; dropped');
          return;
        }
        // Refused for what they are, not for a passing condition: the same batch would be refused
        // again forever. The agent counts and logs them (edge-agent status: rejected).
        if (isEdgeError(err, 'EDGE_READING_INVALID')) return;
        // Not acknowledged: a line cannot be read again, so keep it for the next call.
        this.requeued += batch.length;
        this.queue = [...batch, ...this.queue];
        this.log.warn({ err: errorMessage(err), readings: batch.length }, 'sink refused readings; will retry');
        return new Promise<void>((resolve) => this.clock.setTimeout(resolve, 100));
      },
    );
    void this.sending.then(() => {
      this.sending = undefined;
      if (this.paused && this.queue.length < this.config.highWater / 2) {
        this.paused = false;
        for (const s of this.sensors) s.port.resume();
      }
      if (!this.stopping) this.pump();
    });
  }

  health(): DriverHealth {
    const sources: Record<string, SourceHealth> = {};
    let degraded = false;
    for (const s of this.sensors) {
      const state: SourceHealth['state'] = !s.port.isOpen && this.state !== 'stopped' && s.lastOk !== undefined ? 'down' : s.lastOk === undefined ? 'unknown' : s.lastOk ? 'ok' : 'down';
      if (state === 'down') degraded = true;
      sources[s.config.name] = { ...s.health, errorsByCode: { ...s.health.errorsByCode }, ...(s.health.skipped ? { skipped: { lines: { ...s.health.skipped.lines }, because: s.health.skipped.because } } : {}), state };
    }
    return { state: this.state === 'running' && degraded ? 'degraded' : this.state, sources };
  }

  /** Port reopen counts and dropped overlong lines per sensor. */
  lineStats(): Record<string, { open: boolean; reopens: number; overlongLines: number; queued: number }> {
    const out: Record<string, { open: boolean; reopens: number; overlongLines: number; queued: number }> = {};
    for (const s of this.sensors) out[s.config.name] = { open: s.port.isOpen, reopens: s.port.reopens, overlongLines: s.framer.overlong, queued: this.queue.length };
    return out;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.sensors.map((s) => s.port.close()));
    // Hand over what has arrived, then stop; a refused final batch is logged, not retried.
    while (this.sending) await this.sending;
    if (this.queue.length && this.sink) {
      const batch = this.queue;
      this.queue = [];
      await this.sink(batch).catch((err: unknown) => this.log.warn({ err: errorMessage(err), readings: batch.length }, 'sink refused the last readings at stop'));
    }
    this.sink = undefined;
    this.stopping = false;
    this.state = 'stopped';
  }
}
