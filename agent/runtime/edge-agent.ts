import { randomUUID } from 'node:crypto';
import type { Clock } from '../core/clock.js';
import type { Driver, DriverHealth } from '../core/driver.js';
import { EdgeError, errorMessage } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { Reading } from '../core/reading.js';
import type { Transport, TransportStatus } from '../core/transport.js';
import type { AgentConfig } from '../config/schema.js';
import { Forwarder, type ForwarderStats } from '../forwarder/forwarder.js';
import { Journal } from '../journal/journal.js';
import { ReadingGate, type Refusals } from '../journal/reading-gate.js';
import { Outbox, type OutboxFigures } from '../outbox/outbox.js';
import type { SeqRange } from '../outbox/evicted-ranges.js';
import { Housekeeper, type EvictionCounts } from '../outbox/housekeeper.js';
import { Pipeline } from '../pipeline/pipeline.js';
import { AnalyticsStage } from '../pipeline/analytics-stage.js';
import { readingsStage, type RecordStage } from '../pipeline/stage.js';
import { stampReadings } from '../stamp/stamp.js';
import { openBuffer, type StoreDamage } from '../store/open-buffer.js';
import type { AgentStore } from '../store/store.js';
import { isDiskFull } from '../store/disk-full.js';

export interface EdgeAgentParts {
  config: AgentConfig;
  deviceId: string;
  drivers: Driver[];
  transport: Transport;
  clock: Clock;
  logger: Logger;
  /** Defaults to the configured analytics (or plain forwarding of readings without queries). */
  stage?: RecordStage;
}

export interface AgentStats {
  deviceId: string;
  boot: string;
  startedAt: number;
  /** Readings accepted (durable in the journal) since start. */
  readings: number;
  journalBacklog: number;
  outboxDepth: number;
  nextSeq: number;
  forwarder: ForwarderStats;
  transport: TransportStatus;
  /** Each driver's own health, and the readings of it the journal refused (EDGE_READING_INVALID). */
  drivers: Record<string, DriverHealth & Refusals>;
  storage: StorageStats;
  /** Conditions a technician must see: a damaged store moved aside, a full disk. */
  alarms: Alarm[];
  /** Per query: late/out-of-order/dropped/… counters and the watermark lag. */
  analytics?: { counters: Record<string, unknown>; watermarks: Record<string, number> };
}

export interface StorageStats extends OutboxFigures {
  bytes: number;
  quotaBytes: number;
  evicted: EvictionCounts;
  expired: EvictionCounts;
  evictedRanges: SeqRange[];
}

export interface Alarm {
  code: 'EDGE_STORE_CORRUPT' | 'EDGE_DISK_FULL';
  message: string;
  since: number;
}

/**
 * The running pipeline: drivers → stamp → journal → pipeline → outbox → forwarder → transport.
 * `start` opens the store and resumes where the previous run stopped.
 */
export class EdgeAgent {
  private accepted = 0;
  private readonly startedAt: number;
  private diskFull: Alarm | undefined;
  private stopping: Promise<void> | undefined;
  /** The latest reading per source/point, for `edge-agent sensors` (diagnostics). */
  private readonly latest = new Map<string, Reading>();
  private readonly gate: ReadingGate;

  private constructor(
    /** Identifies this run of the agent on the wire: a new boot is not a gap. */
    readonly boot: string,
    private readonly parts: EdgeAgentParts,
    private readonly store: AgentStore,
    private readonly journal: Journal,
    private readonly outbox: Outbox,
    private pipeline: Pipeline,
    private readonly forwarder: Forwarder,
    private readonly housekeeper: Housekeeper,
    private stage: RecordStage,
    private readonly damage: StoreDamage | undefined,
  ) {
    this.startedAt = parts.clock.now();
    this.gate = new ReadingGate(parts.logger.child({ module: 'journal' }));
  }

  static async start(parts: EdgeAgentParts): Promise<EdgeAgent> {
    const { config, clock, logger } = parts;
    const { store, seqFloor, damage } = await openBuffer(config.dataDir, logger, clock.now());
    try {
      const journal = new Journal(store, { ...config.journal, clock });
      const outbox = new Outbox(store, (upTo) => seqFloor.reserve(upTo));
      const stage = parts.stage ?? stageFor(config, logger);
      const pipeline = newPipeline(store, journal, outbox, stage, config, clock, logger);
      await pipeline.init();
      await journal.init(pipeline.position);
      await outbox.init(seqFloor.floor);
      const boot = randomUUID();
      const forwarder = new Forwarder(outbox, parts.transport, {
        device: parts.deviceId,
        boot,
        ...config.forwarding,
        retentionMs: config.storage.retentionMs,
        clock,
        logger: logger.child({ module: 'forwarder' }),
      });
      const housekeeper = new Housekeeper(outbox, config.storage, clock, logger.child({ module: 'housekeeping' }));
      const agent = new EdgeAgent(boot, parts, store, journal, outbox, pipeline, forwarder, housekeeper, stage, damage);
      await housekeeper.tick();
      journal.start();
      pipeline.start();
      forwarder.start();
      housekeeper.start();
      logger.info({ device: parts.deviceId, boot: agent.boot, dataDir: config.dataDir, outbox: outbox.depth, nextSeq: outbox.upcomingSeq }, 'edge-agent started');
      try {
        for (const driver of parts.drivers) await driver.start((readings) => agent.accept(readings, driver.name));
      } catch (err) {
        await agent.stop(0);
        throw err;
      }
      return agent;
    } catch (err) {
      if (store.db.status === 'open') await store.close().catch(() => undefined);
      throw err;
    }
  }

  /**
   * The sink every driver writes to: resolves once the readings are durable. Readings the
   * journal would refuse are filtered out and counted (the rest of the batch goes on); a batch
   * with nothing valid is rejected with EDGE_READING_INVALID. A full disk rejects them (the
   * driver keeps or re-reads them) and raises an alarm until writes succeed.
   */
  private async accept(batch: Reading[], driver: string): Promise<void> {
    const readings = this.gate.admit(batch, driver);
    try {
      await this.journal.append(stampReadings(readings, this.parts.clock), driver);
    } catch (err) {
      if (!isDiskFull(err)) throw err;
      if (!this.diskFull) {
        this.diskFull = { code: 'EDGE_DISK_FULL', message: `the disk holding ${this.parts.config.dataDir} is full: new readings are refused until space returns`, since: this.parts.clock.now() };
        this.parts.logger.error({ dataDir: this.parts.config.dataDir }, this.diskFull.message);
      }
      throw new EdgeError('EDGE_DISK_FULL', this.diskFull.message, { cause: err });
    }
    if (this.diskFull) {
      this.parts.logger.warn({ since: this.diskFull.since }, 'disk space is back: accepting readings again');
      this.diskFull = undefined;
    }
    this.accepted += readings.length;
    for (const r of readings) this.latest.set(`${r.source}\u0000${r.point}`, r);
  }

  /** The latest accepted reading of every point (diagnostics: `edge-agent sensors`). */
  latestReadings(): Reading[] {
    return [...this.latest.values()];
  }

  /** Accepts readings as a driver would (diagnostics: `edge-agent send-test`); resolves once durable. */
  inject(readings: Reading[]): Promise<void> {
    return this.accept(readings, 'send-test');
  }

  /**
   * Answers the cloud's resend request from the retained records: they go out again, in seq
   * order, through the backlog lane. Ranges the agent no longer has come back as `evicted`.
   */
  async resend(fromSeq: number, toSeq: number): Promise<{ resent: number; evicted: SeqRange[] }> {
    if (!(Number.isSafeInteger(fromSeq) && Number.isSafeInteger(toSeq) && fromSeq >= 1 && toSeq >= fromSeq)) {
      throw new EdgeError('EDGE_USAGE', `resend needs 1 ≤ fromSeq ≤ toSeq (got ${fromSeq}, ${toSeq})`);
    }
    const { resent, evicted } = await this.outbox.resend(fromSeq, toSeq);
    this.parts.logger.info({ fromSeq, toSeq, resent, evicted }, 'resend requested by the cloud');
    return { resent, evicted };
  }

  /**
   * Live reconfiguration (the device twin's desired properties), without touching what is
   * buffered. `drivers` is the complete list that should run: instances already running are kept,
   * the others stopped or started. Forwarding settings apply from the next message (retry and
   * backlog-share settings from the next start). Changed queries or tolerances get a new
   * analytics stage over the committed state: unchanged queries resume, changed ones start empty.
   * Throws if a new driver cannot start; the caller then applies the previous config again.
   */
  async reconfigure(next: AgentConfig, drivers: Driver[]): Promise<void> {
    const { logger, clock } = this.parts;
    const previous = this.parts.config;
    for (const d of this.parts.drivers.filter((x) => !drivers.includes(x))) {
      await d.stop().catch((err: unknown) => logger.warn({ driver: d.name, err: errorMessage(err) }, 'driver did not stop cleanly'));
    }
    const arriving = drivers.filter((x) => !this.parts.drivers.includes(x));
    this.parts.drivers = drivers;
    this.parts.config = next;
    const { maxMessageBytes, lingerMs, maxInFlight, compress, retryInitialMs, retryMaxMs, backlogShare } = next.forwarding;
    this.forwarder.update({ maxMessageBytes, lingerMs, maxInFlight, compress, retryInitialMs, retryMaxMs, backlogShare, retentionMs: next.storage.retentionMs });
    this.housekeeper.setPolicy(next.storage);
    if (!this.parts.stage && JSON.stringify(previous.analytics) !== JSON.stringify(next.analytics)) {
      await this.pipeline.stop();
      this.stage = stageFor(next, logger);
      this.pipeline = newPipeline(this.store, this.journal, this.outbox, this.stage, next, clock, logger);
      await this.pipeline.init();
      this.pipeline.start();
    }
    for (const d of arriving) await d.start((readings) => this.accept(readings, d.name));
    logger.info({ drivers: drivers.map((d) => d.name), queries: next.analytics.queries.map((q) => q.name) }, 'configuration applied live');
  }

  stats(): AgentStats {
    const drivers: AgentStats['drivers'] = {};
    for (const d of this.parts.drivers) drivers[d.name] = { ...d.health(), ...this.gate.of(d.name) };
    return {
      deviceId: this.parts.deviceId,
      boot: this.boot,
      startedAt: this.startedAt,
      readings: this.accepted,
      journalBacklog: this.journal.lastPosition - this.pipeline.position,
      outboxDepth: this.outbox.depth,
      nextSeq: this.outbox.upcomingSeq,
      forwarder: this.forwarder.stats(),
      transport: this.parts.transport.status(),
      drivers,
      storage: {
        ...this.housekeeper.figures,
        bytes: this.outbox.bytes,
        quotaBytes: this.parts.config.storage.quotaBytes,
        evicted: { ...this.housekeeper.evicted },
        expired: { ...this.housekeeper.expired },
        evictedRanges: this.outbox.evictedRanges.list(),
      },
      alarms: [
        ...(this.damage ? [{ code: 'EDGE_STORE_CORRUPT' as const, message: `the buffer could not be opened (${this.damage.reason}); it was moved to ${this.damage.movedTo} and a fresh one started`, since: this.damage.at }] : []),
        ...(this.diskFull ? [this.diskFull] : []),
        ...(this.store.damagedRecords > 0
          ? [{ code: 'EDGE_STORE_CORRUPT' as const, message: `${this.store.damagedRecords} damaged records failed their checksum and were quarantined (sublevel 'damaged')`, since: this.startedAt }]
          : []),
      ],
      ...(this.stage instanceof AnalyticsStage ? { analytics: { counters: this.stage.counters(), watermarks: this.stage.watermarks() } } : {}),
    };
  }

  /** Waits until everything accepted so far has been acknowledged by the hub, or the timeout. */
  async drain(timeoutMs: number): Promise<boolean> {
    const deadline = this.parts.clock.now() + timeoutMs;
    await this.catchUp();
    return this.forwarder.flush(Math.max(0, deadline - this.parts.clock.now()));
  }

  /** Moves everything the journal holds into the outbox: local work, so it needs no timeout. */
  private async catchUp(): Promise<void> {
    while (this.journal.lastPosition > this.pipeline.position) await this.pipeline.step();
  }

  /**
   * Stops drivers first (so nothing new arrives), moves what the journal holds into the
   * outbox, gives the forwarder `flushTimeoutMs` to send it, then closes everything. What is
   * not acknowledged by then stays on disk for the next start.
   */
  stop(flushTimeoutMs = 5000): Promise<void> {
    this.stopping ??= this.shutdown(flushTimeoutMs);
    return this.stopping;
  }

  private async shutdown(flushTimeoutMs: number): Promise<void> {
    const { logger } = this.parts;
    for (const driver of this.parts.drivers) {
      await driver.stop().catch((err: unknown) => logger.warn({ driver: driver.name, err: errorMessage(err) }, 'driver did not stop cleanly'));
    }
    logger.debug('drivers stopped');
    await this.drain(flushTimeoutMs).catch((err: unknown) => logger.error({ err: errorMessage(err) }, 'could not flush before stopping; the data stays on disk'));
    logger.debug('drained');
    await this.pipeline.stop();
    await this.journal.stop();
    await this.housekeeper.stop();
    logger.debug('pipeline stopped');
    // Transport first: a send waiting for a connection that is not coming (hub down) is then
    // refused at once instead of holding the stop for sendTimeoutMs past TimeoutStopSec. What
    // it carried stays in the outbox (not acknowledged) and goes out after the next start.
    await this.parts.transport.close();
    await this.forwarder.stop();
    logger.debug('forwarder stopped');
    await this.store.close();
    logger.info({ outbox: this.outbox.depth }, 'edge-agent stopped');
  }
}

function stageFor(config: AgentConfig, logger: Logger): RecordStage {
  const { queries, tolerances, maxStateEntries, forwardReadings } = config.analytics;
  if (queries.length === 0) return readingsStage;
  return new AnalyticsStage({ queries, tolerances, maxStateEntries, forwardReadings, logger: logger.child({ module: 'analytics' }) });
}

function newPipeline(store: AgentStore, journal: Journal, outbox: Outbox, stage: RecordStage, config: AgentConfig, clock: Clock, logger: Logger): Pipeline {
  return new Pipeline(store, journal, outbox, stage, clock, logger.child({ module: 'pipeline' }), 2000, 1000, config.journal.sync === 'commit');
}
