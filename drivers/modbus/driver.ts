import { systemClock, type Clock, type TimerHandle } from '../../agent/core/clock.js';
import type { Driver, DriverHealth, DriverState, ReadingSink, SourceHealth } from '../../agent/core/driver.js';
import { EdgeError, errorMessage } from '../../agent/core/errors.js';
import type { PointWriter, PointWriteRequest, PointWriteResult, WriteRecord } from '../../agent/core/point-write.js';
import { silentLogger, type Logger } from '../../agent/core/logger.js';
import type { Reading } from '../../agent/core/reading.js';
import { parseModbusConfig, type DeviceConfig, type ModbusDriverConfig, type PointConfig, type TransportConfig } from '../config.js';
import { DeviceError, unavailableError } from '../errors.js';
import { badReadings, blockReadings } from './block-readings.js';
import { Bus } from './bus.js';
import { CircuitBreaker } from './circuit-breaker.js';
import { CronSchedule } from './cron-schedule.js';
import { readRequest, readResponseData } from './pdu.js';
import { planReads, type ReadBlock } from './planner.js';
import { planWrite, writeAndVerify, writeError } from './point-write.js';
import { RtuTransport } from './rtu-transport.js';
import { TcpTransport } from './tcp-transport.js';
import type { ModbusTransport, ReopenOptions, TransportStats } from './transport.js';

export type TransportFactory = (config: TransportConfig, options: { clock: Clock; reopen: ReopenOptions }) => ModbusTransport;

export interface ModbusDriverOptions {
  clock?: Clock;
  logger?: Logger;
  /** Replaces the real transports (fault-injecting ones in tests). */
  transportFactory?: TransportFactory;
}

export const defaultTransportFactory: TransportFactory = (t, { clock, reopen }) =>
  t.kind === 'rtu'
    ? new RtuTransport({ path: t.path, baudRate: t.baudRate, parity: t.parity, dataBits: t.dataBits, stopBits: t.stopBits, clock, reopen })
    : new TcpTransport({ host: t.host, port: t.port, clock, reopen });

/** One serial line or one TCP endpoint: a transport and the bus that shares it. */
interface Line {
  key: string;
  transport: ModbusTransport;
  bus: Bus;
}

interface Slave {
  device: DeviceConfig;
  line: Line;
  blocks: ReadBlock<PointConfig>[];
  breaker: CircuitBreaker;
  health: SourceHealth;
  lastCycleOk: boolean | undefined;
  nextAt: number;
  timer: TimerHandle | undefined;
  sinkRejections: number;
  overruns: number;
}

/**
 * Polls Modbus RTU and TCP slaves and feeds their readings to a sink. Serial devices that
 * share a path share one transport and one bus (one request at a time, round-robin among
 * slaves); TCP devices that share host:port share a connection with `maxInFlight` requests
 * in flight; different lines run concurrently. Each slave has its own schedule and circuit
 * breaker, so a dead slave costs at most one timeout per cycle until its breaker opens, and
 * then nothing but a probe now and then. Faults become bad-quality readings, never throws.
 */
export class ModbusDriver implements Driver, PointWriter {
  readonly name: string;
  readonly config: ModbusDriverConfig;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly lines = new Map<string, Line>();
  private readonly slaves: Slave[] = [];
  private readonly inflight = new Set<Promise<void>>();
  private state: DriverState = 'stopped';
  private running = false;
  private stopping = false;
  private sink: ReadingSink | undefined;
  /** The last write of each point, by `device/point`. */
  private readonly writes = new Map<string, WriteRecord>();

  /** Validates `config` eagerly: throws EDGE_CONFIG_INVALID naming the device and point. */
  constructor(config: unknown, options: ModbusDriverOptions = {}) {
    this.config = parseModbusConfig(config);
    this.name = this.config.name;
    this.clock = options.clock ?? systemClock;
    this.log = (options.logger ?? silentLogger).child({ driver: this.name });
    const factory = options.transportFactory ?? defaultTransportFactory;
    for (const device of this.config.devices) {
      const t = device.transport;
      const key = t.kind === 'rtu' ? `rtu:${t.path}` : `tcp:${t.host}:${t.port}`;
      let line = this.lines.get(key);
      if (!line) {
        const concurrency = t.kind === 'tcp' ? Math.min(...this.config.devices.map((d) => (d.transport.kind === 'tcp' && `tcp:${d.transport.host}:${d.transport.port}` === key ? d.transport.maxInFlight : 16))) : 1;
        const sharing = this.config.devices.map((d) => d.transport).filter((x) => (x.kind === 'rtu' ? `rtu:${x.path}` : `tcp:${x.host}:${x.port}`) === key);
        const timing = {
          pauseMs: Math.max(...sharing.map((x) => x.pauseBetweenRequestsMs)),
          quietAfterNoReplyMs: Math.max(...sharing.map((x) => x.quietAfterNoReplyMs)),
          isTimeout: (err: unknown) => err instanceof DeviceError && err.timeout === true,
        };
        line = { key, transport: factory(t, { clock: this.clock, reopen: this.config.reopen }), bus: new Bus(concurrency, { timing, clock: this.clock }) };
        this.lines.set(key, line);
      }
      this.slaves.push({
        device,
        line,
        blocks: planReads(device.points, { maxGap: device.maxGap, maxRegisters: device.maxRegisters, maxBits: device.maxBits }),
        breaker: new CircuitBreaker({ ...this.config.breaker, clock: this.clock }),
        health: { state: 'unknown', polls: 0, errors: 0, errorsByCode: {} },
        lastCycleOk: undefined,
        nextAt: 0,
        timer: undefined,
        sinkRejections: 0,
        overruns: 0,
      });
    }
  }

  /** The planned block reads per device (for diagnostics and tests). */
  plan(): Record<string, Array<{ table: string; address: number; count: number; points: string[] }>> {
    const out: Record<string, Array<{ table: string; address: number; count: number; points: string[] }>> = {};
    for (const s of this.slaves) out[s.device.name] = s.blocks.map((b) => ({ table: b.table, address: b.address, count: b.count, points: b.points.map((p) => p.name) }));
    return out;
  }

  async start(sink: ReadingSink): Promise<void> {
    if (this.running) throw new TypeError(`driver ${this.name} is already started`);
    this.state = 'starting';
    this.sink = sink;
    this.running = true;
    // Open every line; one that fails keeps retrying in the background (reopen backoff).
    await Promise.all(
      [...this.lines.values()].map((line) =>
        line.transport.open().catch((err: unknown) => this.log.warn({ line: line.key, err: errorMessage(err) }, 'line not open yet; retrying in background')),
      ),
    );
    if (!this.running) return;
    for (const s of this.slaves) this.schedule(s);
    this.state = 'running';
  }

  private schedule(s: Slave): void {
    if (s.device.cron !== undefined) {
      this.scheduleCron(s, new CronSchedule(s.device.cron));
      return;
    }
    s.nextAt = this.clock.now();
    const tick = (): void => {
      s.timer = undefined;
      if (!this.running) return;
      this.track(
        this.cycle(s).then(() => {
          if (!this.running) return;
          const period = s.device.pollMs!;
          const now = this.clock.now();
          s.nextAt += period;
          if (now - s.nextAt > 2 * period) {
            s.overruns++;
            s.nextAt = now; // far behind (slow bus or slow sink): skip the missed polls
          }
          // A little behind (a slow neighbour on the bus): poll at once, keeping the rate.
          s.timer = this.clock.setTimeout(tick, Math.max(0, s.nextAt - now));
        }),
      );
    };
    tick();
  }

  /**
   * Cron ticks armed one at a time on the injected clock. A tick that finds the previous poll
   * still running is skipped (node-cron's `noOverlap`), so a slow bus never stacks polls.
   */
  private scheduleCron(s: Slave, schedule: CronSchedule): void {
    let last = this.clock.now();
    let busy = false;
    const arm = (): void => {
      // From the later of now and the tick just fired: a timer that fires a hair early must not
      // see the same second again.
      const at = schedule.nextAfter(Math.max(last, this.clock.now()));
      last = at;
      s.timer = this.clock.setTimeout(tick, Math.max(0, at - this.clock.now()));
    };
    const tick = (): void => {
      s.timer = undefined;
      if (!this.running) return;
      arm();
      if (busy) {
        s.overruns++;
        return;
      }
      busy = true;
      this.track(this.cycle(s).finally(() => (busy = false)));
    };
    arm();
  }

  private track(p: Promise<void>): Promise<void> {
    this.inflight.add(p);
    void p.finally(() => this.inflight.delete(p));
    return p;
  }

  /** One poll plus its hand-over to the sink; the next poll waits for the sink (backpressure). */
  private async cycle(s: Slave): Promise<void> {
    const readings = await this.poll(s);
    if (!this.sink || readings.length === 0) return;
    try {
      await this.sink(readings);
    } catch (err) {
      // Not acknowledged: the values are read again next cycle rather than held here.
      s.sinkRejections++;
      this.log.warn({ device: s.device.name, err: errorMessage(err) }, 'sink refused readings');
    }
  }

  /** Polls one device once, outside its schedule (probe, tests). Does not call the sink. */
  async pollDevice(name: string): Promise<Reading[]> {
    const s = this.slaves.find((x) => x.device.name === name);
    if (!s) throw new TypeError(`no device named ${name}`);
    return this.poll(s);
  }

  private async poll(s: Slave): Promise<Reading[]> {
    const { device, line } = s;
    const out: Reading[] = [];
    s.health.polls++;
    let skip: { code: string; message: string } | undefined;
    let ok = false;
    for (const block of s.blocks) {
      if (this.stopping) break; // shutting down: no more requests, no made-up bad readings
      if (skip) {
        out.push(...badReadings(device.name, block.points, skip, this.clock.now()));
        continue;
      }
      const probing = s.breaker.state() === 'half-open';
      if (!s.breaker.tryAcquire()) {
        skip = unavailableError(`device "${device.name}" (unit ${device.unitId} on ${line.transport.description}) is backed off after repeated failures; ${this.nextAttempt(s, s.breaker.retryAt)}`);
        out.push(...badReadings(device.name, block.points, skip, this.clock.now()));
        continue;
      }
      const req = readRequest(block.table, block.address, block.count);
      for (let attempt = 0; ; attempt++) {
        try {
          const pdu = await line.bus.run(device.name, () => line.transport.request(device.unitId, req, device.timeoutMs));
          const data = readResponseData(device.unitId, req, pdu);
          const at = this.clock.now();
          s.breaker.success();
          s.health.lastGoodAt = at;
          ok = true;
          out.push(...blockReadings(device.name, block, data, at));
          break;
        } catch (err) {
          if (this.stopping) break; // our own shutdown aborted the request: not a device fault
          const e = this.withRealNextAttempt(s, toDeviceError(err, device));
          this.countError(s, e);
          if (e.exception) {
            s.breaker.success(); // it answered: alive, just unhappy with this block
            out.push(...badReadings(device.name, block.points, e, this.clock.now()));
            break;
          }
          // A probe of a backed-off slave is one attempt: it must not hold the bus for long.
          if (attempt < device.retries && !probing && !e.disconnected && this.running) continue;
          s.breaker.failure();
          out.push(...badReadings(device.name, block.points, e, this.clock.now()));
          if (e.timeout || e.disconnected) skip = e; // don't spend more bus time on it this cycle
          break;
        }
      }
    }
    s.lastCycleOk = ok;
    return out;
  }

  /**
   * Writes one point through its line's bus (so it takes its turn with the polls, never
   * colliding with them) and reads it back; see `writeAndVerify`. No retries: a write that
   * timed out may have been applied. Every attempt, refused or done, is kept for `lastWrites`.
   */
  async writePoint(request: PointWriteRequest): Promise<PointWriteResult> {
    const { device: deviceName, point: pointName, value, by } = request;
    const s = this.slaves.find((x) => x.device.name === deviceName);
    if (!s) throw new EdgeError('EDGE_USAGE', `driver "${this.name}" has no device "${deviceName}" (devices: ${this.slaves.map((x) => x.device.name).join(', ')})`);
    const point = s.device.points.find((p) => p.name === pointName);
    if (!point) throw new EdgeError('EDGE_USAGE', `device "${deviceName}" has no point "${pointName}" (points: ${s.device.points.map((p) => p.name).join(', ')})`);
    const { device, line } = s;
    const where = `device "${device.name}" point "${point.name}" (${point.table} ${point.address}, unit ${device.unitId} on ${line.transport.description})`;
    const record = (r: Omit<WriteRecord, 'at' | 'by' | 'device' | 'point' | 'requested'>): void => {
      this.writes.set(`${device.name}/${point.name}`, { at: this.clock.now(), by, device: device.name, point: point.name, requested: value, ...r });
    };
    const send = (pdu: Buffer): Promise<Buffer> => line.transport.request(device.unitId, pdu, device.timeoutMs);
    try {
      planWrite(where, point, value); // a refusal answers at once, without waiting for the line
      // Write and read-back in one turn: another write to the point between them would make the read-back lie.
      const done = await line.bus.run(device.name, () => writeAndVerify(send, device.unitId, where, point, value));
      record({ outcome: 'done', readBack: done.readBack });
      this.log.info({ device: device.name, point: point.name, by, requested: value, written: done.written, readBack: done.readBack }, 'point written');
      return { device: device.name, point: point.name, requested: value, written: done.written, readBack: done.readBack, function: done.function, at: this.clock.now(), ...(point.unit !== undefined ? { unit: point.unit } : {}) };
    } catch (err) {
      const e = writeError(err, where);
      record({ outcome: e.code === 'EDGE_WRITE_REFUSED' ? 'refused' : 'failed', error: { code: e.code, message: e.message } });
      this.log.warn({ device: device.name, point: point.name, by, requested: value, code: e.code, err: e.message }, 'point not written');
      throw e;
    }
  }

  lastWrites(): WriteRecord[] {
    return [...this.writes.values()].map((w) => ({ ...w }));
  }

  /**
   * When the slave is asked again, as a time: the first poll at or after `notBefore` (the
   * breaker's or the connection's backoff). A relative "in N ms" would be read later, in a
   * reading's error or `status`, when it no longer holds; and the poll, not the backoff, is
   * when the next request goes out.
   */
  private nextAttempt(s: Slave, notBefore: number): string {
    if (s.device.cron !== undefined) return `no attempt before ${new Date(notBefore).toISOString()} (the next cron poll after it)`;
    const period = s.device.pollMs!;
    let t = s.nextAt + period;
    if (t < notBefore) t += Math.ceil((notBefore - t) / period) * period;
    return `next attempt at ${new Date(t).toISOString()} (the next poll after the backoff)`;
  }

  /** The transport's "unreachable, next attempt in N ms" restated as this slave's real next attempt. */
  private withRealNextAttempt(s: Slave, e: DeviceError): DeviceError {
    if (e.retryAt === undefined) return e;
    const out = unavailableError(`${s.line.transport.description} unreachable (reconnecting with backoff); ${this.nextAttempt(s, e.retryAt)}`, e);
    out.retryAt = e.retryAt;
    return out;
  }

  private countError(s: Slave, e: DeviceError): void {
    s.health.errors++;
    s.health.errorsByCode[e.code] = (s.health.errorsByCode[e.code] ?? 0) + 1;
    s.health.lastError = { code: e.code, message: e.message, at: this.clock.now() };
  }

  health(): DriverHealth {
    const sources: Record<string, SourceHealth> = {};
    let allOk = true;
    for (const s of this.slaves) {
      const b = s.breaker.state();
      const state: SourceHealth['state'] = b === 'open' ? 'backoff' : s.lastCycleOk === undefined ? 'unknown' : s.lastCycleOk ? 'ok' : 'down';
      if (state !== 'ok' && state !== 'unknown') allOk = false;
      sources[s.device.name] = { ...s.health, errorsByCode: { ...s.health.errorsByCode }, state };
    }
    const st: DriverState = this.state === 'running' && !allOk ? 'degraded' : this.state;
    return { state: st, sources };
  }

  /** Per line figures (stray bytes, CRC errors, reopens) beside the per-slave ones. */
  lineStats(): Record<string, TransportStats> {
    const out: Record<string, TransportStats> = {};
    for (const line of this.lines.values()) out[line.key] = line.transport.stats();
    return out;
  }

  async stop(): Promise<void> {
    this.running = false;
    this.stopping = true;
    for (const s of this.slaves) {
      if (s.timer) this.clock.clearTimeout(s.timer);
      s.timer = undefined;
    }
    // Closing the lines aborts requests in flight (a dead slave's timeout need not run out);
    // readings already gathered still reach the sink, and we wait for that call to settle.
    await Promise.all([...this.lines.values()].map((l) => l.transport.close()));
    for (const l of this.lines.values()) l.bus.release(); // queued requests fail now, not after a quiet time
    while (this.inflight.size) await Promise.allSettled([...this.inflight]);
    this.stopping = false;
    this.state = 'stopped';
  }

}

function toDeviceError(err: unknown, device: DeviceConfig): DeviceError {
  if (err instanceof DeviceError) return err;
  return unavailableError(`device "${device.name}": ${errorMessage(err)}`, err);
}
