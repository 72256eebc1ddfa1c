import { randomUUID } from 'node:crypto';
import type { Clock } from '../core/clock.js';
import type { Driver, DriverHealth } from '../core/driver.js';
import { errorMessage } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { Reading } from '../core/reading.js';
import type { Transport, TransportStatus } from '../core/transport.js';
import type { AgentConfig } from '../config/schema.js';
import { Forwarder, type ForwarderStats } from '../forwarder/forwarder.js';
import { Journal } from '../journal/journal.js';
import { Outbox } from '../outbox/outbox.js';
import { Pipeline, type RecordStage } from '../pipeline/pipeline.js';
import { readingRecord } from '../pipeline/reading-records.js';
import { stampReadings } from '../stamp/stamp.js';
import { AgentStore } from '../store/store.js';

export interface EdgeAgentParts {
  config: AgentConfig;
  deviceId: string;
  drivers: Driver[];
  transport: Transport;
  clock: Clock;
  logger: Logger;
  /** Defaults to forwarding every reading as a `reading` record. */
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
  drivers: Record<string, DriverHealth>;
}

/**
 * The running pipeline: drivers → stamp → journal → pipeline → outbox → forwarder → transport.
 * `start` opens the store and resumes where the previous run stopped.
 */
export class EdgeAgent {
  private accepted = 0;
  private readonly startedAt: number;

  private constructor(
    /** Identifies this run of the agent on the wire: a new boot is not a gap. */
    readonly boot: string,
    private readonly parts: EdgeAgentParts,
    private readonly store: AgentStore,
    private readonly journal: Journal,
    private readonly outbox: Outbox,
    private readonly pipeline: Pipeline,
    private readonly forwarder: Forwarder,
  ) {
    this.startedAt = parts.clock.now();
  }

  static async start(parts: EdgeAgentParts): Promise<EdgeAgent> {
    const { config, clock, logger } = parts;
    const store = await AgentStore.open(config.dataDir);
    try {
      const journal = new Journal(store, { sync: config.journal.sync });
      const outbox = new Outbox(store);
      const pipeline = new Pipeline(store, journal, outbox, parts.stage ?? ((entries) => entries.map((e) => readingRecord(e.reading))), logger.child({ module: 'pipeline' }));
      await pipeline.init();
      await journal.init(pipeline.position);
      await outbox.init();
      const boot = randomUUID();
      const forwarder = new Forwarder(outbox, parts.transport, {
        device: parts.deviceId,
        boot,
        ...config.forwarding,
        retentionMs: config.storage.retentionMs,
        clock,
        logger: logger.child({ module: 'forwarder' }),
      });
      const agent = new EdgeAgent(boot, parts, store, journal, outbox, pipeline, forwarder);
      pipeline.start();
      forwarder.start();
      logger.info({ device: parts.deviceId, boot: agent.boot, dataDir: config.dataDir, outbox: outbox.depth, nextSeq: outbox.upcomingSeq }, 'edge-agent started');
      try {
        for (const driver of parts.drivers) await driver.start((readings) => agent.accept(readings));
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

  /** The sink every driver writes to: resolves once the readings are durable. */
  private async accept(readings: Reading[]): Promise<void> {
    await this.journal.append(stampReadings(readings, this.parts.clock));
    this.accepted += readings.length;
  }

  stats(): AgentStats {
    const drivers: Record<string, DriverHealth> = {};
    for (const d of this.parts.drivers) drivers[d.name] = d.health();
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
  async stop(flushTimeoutMs = 5000): Promise<void> {
    const { logger } = this.parts;
    for (const driver of this.parts.drivers) {
      await driver.stop().catch((err: unknown) => logger.warn({ driver: driver.name, err: errorMessage(err) }, 'driver did not stop cleanly'));
    }
    logger.debug('drivers stopped');
    await this.drain(flushTimeoutMs).catch((err: unknown) => logger.error({ err: errorMessage(err) }, 'could not flush before stopping; the data stays on disk'));
    logger.debug('drained');
    await this.pipeline.stop();
    logger.debug('pipeline stopped');
    await this.forwarder.stop();
    logger.debug('forwarder stopped');
    await this.parts.transport.close();
    await this.store.close();
    logger.info({ outbox: this.outbox.depth }, 'edge-agent stopped');
  }
}
