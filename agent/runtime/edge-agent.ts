import { randomUUID } from 'node:crypto';
import type { Clock } from '../core/clock.js';
import type { Driver } from '../core/driver.js';
import { EdgeError, errorMessage } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { Reading } from '../core/reading.js';
import { isPointWriter, type WriteRecord } from '../core/point-write.js';
import type { Transport } from '../core/transport.js';
import { TrafficMeter } from '../core/traffic-meter.js';
import type { AgentConfig } from '../config/schema.js';
import { BacklogDrainer } from '../backlog-files/drainer.js';
import type { FileUploader } from '../transport/file-upload.js';
import { Forwarder, type LiveOptions } from '../forwarder/forwarder.js';
import type { AgentStats, Alarm, StorageStats, SeqRange } from '../core/agent-stats.js';
import { Journal } from '../journal/journal.js';
import { Intake } from './intake.js';
import { Outbox } from '../outbox/outbox.js';
import { Housekeeper } from '../outbox/housekeeper.js';
import { Pipeline } from '../pipeline/pipeline.js';
import { AnalyticsStage } from '../pipeline/analytics-stage.js';
import { forwardingStage, readingsStage, type RecordStage } from '../pipeline/stage.js';
import { Deadband, DeadbandRules, SuppressedCounts } from '../pipeline/deadband.js';
import { deadbandsOf } from '../../drivers/registry.js';
import { openBuffer, replaceOpenStore, type StoreDamage } from '../store/open-buffer.js';
import type { AgentStore } from '../store/store.js';
import type { SeqFloor } from '../store/seq-floor.js';
import { faultOf } from '../store/store-fault.js';
import { StoreRecovery } from './store-recovery.js';
import { processWrites } from '../store/disk-writes.js';

export interface EdgeAgentParts {
  config: AgentConfig;
  deviceId: string;
  drivers: Driver[];
  transport: Transport;
  clock: Clock;
  logger: Logger;
  /** Defaults to the configured analytics (or plain forwarding of readings without queries). */
  stage?: RecordStage;
  /** IoT Hub file upload, for `forwarding.backlogFiles`; without it the backlog goes as messages. */
  fileUploader?: FileUploader;
}




/** One time the store was found damaged (at open or at run time) and what it cost. */
export interface DamageIncident extends StoreDamage {
  /** Seqs handed out before that the store no longer had: reported to the cloud as lost. */
  lostRanges: SeqRange[];
  lostRecords: number;
  /** Accepted readings missing from the journal (they had no seq yet). */
  lostReadings: number;
}

/** The parts of the spine, as `start` composes them. */
interface Spine {
  boot: string;
  parts: EdgeAgentParts;
  store: AgentStore;
  journal: Journal;
  outbox: Outbox;
  pipeline: Pipeline;
  forwarder: Forwarder;
  housekeeper: Housekeeper;
  stage: RecordStage;
  seqFloor: SeqFloor;
  drainer?: BacklogDrainer;
}

/**
 * The running pipeline: drivers → stamp → journal → pipeline → outbox → forwarder → transport.
 * `start` opens the store and resumes where the previous run stopped.
 */
export class EdgeAgent {
  private readonly startedAt: number;
  private stopping: Promise<void> | undefined;
  /** Damage found since start: kept for the alarm until the next start. */
  private readonly incidents: DamageIncident[] = [];
  private readonly recovery: StoreRecovery;
  /** Damage replaced at run time, reported once the parts have read the fresh store back. */
  private pendingDamage: StoreDamage | undefined;
  /** The process's write counters at start, so `written` counts this run only. */
  private readonly writesAtStart = processWrites();
  private readonly intake: Intake;
  /** Readings the deadband kept back, since start: outlives the stages a reconfigure replaces. */
  private readonly suppressed: SuppressedCounts;

  /** Identifies this run of the agent on the wire: a new boot is not a gap. */
  readonly boot: string;
  private readonly parts: EdgeAgentParts;
  private readonly store: AgentStore;
  private readonly journal: Journal;
  private readonly outbox: Outbox;
  private pipeline: Pipeline;
  private readonly forwarder: Forwarder;
  private readonly housekeeper: Housekeeper;
  private stage: RecordStage;
  private readonly seqFloor: SeqFloor;
  private readonly drainer: BacklogDrainer | undefined;

  private constructor(spine: Spine & { suppressed: SuppressedCounts }) {
    this.drainer = spine.drainer;
    ({ boot: this.boot, parts: this.parts, store: this.store, journal: this.journal, outbox: this.outbox, pipeline: this.pipeline, forwarder: this.forwarder, housekeeper: this.housekeeper, stage: this.stage, seqFloor: this.seqFloor, suppressed: this.suppressed } = spine);
    const { parts, store } = spine;
    this.startedAt = parts.clock.now();
    this.intake = new Intake({ journal: this.journal, store, clock: parts.clock, logger: parts.logger });
    this.recovery = new StoreRecovery(
      store,
      { pause: () => this.pauseForRecovery(), replace: () => this.replaceDamaged(), resume: () => this.resumeAfterRecovery() },
      parts.clock,
      parts.logger.child({ module: 'store' }),
    );
  }

  static async start(parts: EdgeAgentParts): Promise<EdgeAgent> {
    const { config, clock, logger } = parts;
    const opened = await openBuffer(config.dataDir, logger, clock.now(), { writeBufferBytes: config.storage.writeBufferBytes });
    const { store, seqFloor } = opened;
    let damage = opened.damage;
    try {
      const journal = new Journal(store, { ...config.journal, clock });
      const outbox = new Outbox(store, (upTo) => seqFloor.reserve(upTo));
      const suppressed = new SuppressedCounts();
      const stage = parts.stage ?? stageFor(config, logger, suppressed);
      const pipeline = newPipeline(store, journal, outbox, stage, config, clock, logger);
      // Reading the state back is where damage in a table shows first: move it aside and read again.
      let checks: { journal: { missing: number }; continuity: Awaited<ReturnType<Outbox['init']>> } | undefined;
      for (let attempt = 0; !checks; attempt++) {
        try {
          await pipeline.init();
          const journalCheck = await journal.init(pipeline.position);
          const floor = seqFloor.view({ damaged: damage !== undefined, everyCommitSynced: config.journal.sync === 'commit' });
          checks = { journal: journalCheck, continuity: await outbox.init(floor) };
        } catch (err) {
          if (faultOf(err) !== 'damaged' || attempt >= 2) throw err;
          damage = await replaceOpenStore(store, errorMessage(err), clock.now(), logger);
        }
      }
      const journalCheck = checks.journal;
      const continuity = checks.continuity;
      const boot = randomUUID();
      // One meter for both paths to the hub: `forwarder.traffic` in the stats shows messages and files.
      const traffic = new TrafficMeter();
      const forwarder = new Forwarder(outbox, parts.transport, {
        device: parts.deviceId,
        boot,
        ...config.forwarding,
        retentionMs: config.storage.retentionMs,
        clock,
        logger: logger.child({ module: 'forwarder' }),
        traffic,
      });
      const housekeeper = new Housekeeper(outbox, config.storage, clock, logger.child({ module: 'housekeeping' }));
      const drainer = parts.fileUploader
        ? new BacklogDrainer(outbox, { device: parts.deviceId, boot, settings: config.forwarding.backlogFiles, retain: () => parts.config.storage.retentionMs > 0, uploader: parts.fileUploader, traffic, clock, logger: logger.child({ module: 'backlog-files' }) })
        : undefined;
      const agent = new EdgeAgent({ boot, parts, store, journal, outbox, pipeline, forwarder, housekeeper, stage, seqFloor, suppressed, ...(drainer ? { drainer } : {}) });
      await agent.recordLoss(damage, continuity.lost, journalCheck.missing, continuity.storedNextSeq);
      await housekeeper.tick();
      journal.start();
      pipeline.start();
      // The backlog found at start is reserved for files before the forwarder reads any of it.
      await drainer?.prime();
      forwarder.start();
      drainer?.start();
      housekeeper.start();
      agent.recovery.start();
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

  private accept(batch: Reading[], driver: string): Promise<void> {
    return this.intake.accept(batch, driver);
  }

  /** The latest accepted reading of every point (diagnostics: `edge-agent sensors`). */
  latestReadings(): Reading[] {
    return this.intake.latestReadings();
  }

  /**
   * Sends an `event` record (an audit of a write, …) to the cloud: durable in the outbox, with
   * its own seq, once this resolves. Rejects while the store is being healed or is full.
   */
  recordEvent(name: string, t: number, data: Record<string, unknown>): Promise<void> {
    return this.pipeline.append([{ kind: 'event', t, name, data }]);
  }

  /** The last write of each point, from the drivers that write (diagnostics: `edge-agent sensors`). */
  lastWrites(): WriteRecord[] {
    return this.parts.drivers.flatMap((d) => (isPointWriter(d) ? d.lastWrites().map((w) => ({ ...w, driver: d.name })) : []));
  }

  /** Calls `listener` after every accepted batch (diagnostics: `status --follow`); returns the unsubscribe. */
  onAccepted(listener: () => void): () => void {
    return this.intake.onAccepted(listener);
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
    const { maxMessageBytes, lingerMs, thinLingerMs, maxInFlight, compress, retryInitialMs, retryMaxMs, backlogShare } = next.forwarding;
    const live: LiveOptions = { maxMessageBytes, lingerMs, thinLingerMs, maxInFlight, compress, retryInitialMs, retryMaxMs, backlogShare, retentionMs: next.storage.retentionMs };
    this.forwarder.update(live);
    this.drainer?.update(next.forwarding.backlogFiles);
    this.housekeeper.setPolicy(next.storage);
    const deadbandsChanged = JSON.stringify(previous.drivers.map(deadbandsOf)) !== JSON.stringify(next.drivers.map(deadbandsOf));
    if (!this.parts.stage && (JSON.stringify(previous.analytics) !== JSON.stringify(next.analytics) || deadbandsChanged)) {
      await this.pipeline.stop();
      this.stage = stageFor(next, logger, this.suppressed);
      this.pipeline = newPipeline(this.store, this.journal, this.outbox, this.stage, next, clock, logger);
      await this.pipeline.init();
      this.pipeline.start();
    }
    for (const d of arriving) await d.start((readings) => this.accept(readings, d.name));
    logger.info({ drivers: drivers.map((d) => d.name), queries: next.analytics.queries.map((q) => q.name) }, 'configuration applied live');
  }

  /**
   * Counts, logs and keeps for the alarm what damage (or a continuity check) found, and tells the
   * cloud at once with a `store.lost` event record: the lost seqs are also answered "evicted" to
   * resend requests, so the reconciler closes their gaps as lost.
   */
  private async recordLoss(damage: StoreDamage | undefined, lost: SeqRange[], lostReadings: number, storedNextSeq?: number): Promise<void> {
    if (!damage && lost.length === 0 && lostReadings === 0) return;
    const lostRecords = lost.reduce((n, r) => n + r.toSeq - r.fromSeq + 1, 0);
    const incident: DamageIncident = { ...(damage ?? { reason: 'records missing from the buffer (a torn or garbled log)', at: this.parts.clock.now() }), lostRanges: lost, lostRecords, lostReadings };
    this.incidents.push(incident);
    this.parts.logger.error({ ...incident, lostRanges: lost.slice(0, 20), storedNextSeq, nextSeq: this.outbox.upcomingSeq }, 'buffer damage: what was lost is reported to the cloud as evicted seq ranges');
    const data: Record<string, unknown> = { reason: incident.reason, lostRecords, lostReadings, ranges: lost.slice(0, 100).map((r) => [r.fromSeq, r.toSeq]) };
    if (incident.movedTo) data.movedTo = incident.movedTo;
    const staged = this.outbox.stage([{ kind: 'event', t: incident.at, name: 'store.lost', data }]);
    await this.store.write(staged.ops, { sync: true });
    staged.commit();
  }

  private async pauseForRecovery(): Promise<void> {
    const dataDir = this.parts.config.dataDir;
    this.forwarder.hold();
    await this.journal.hold(() => new EdgeError('EDGE_DISK_FULL', `the buffer in ${dataDir} is being healed: readings are refused until it is back`));
    await this.pipeline.stop();
    await this.housekeeper.stop();
  }

  private async replaceDamaged(): Promise<void> {
    this.pendingDamage = await replaceOpenStore(this.store, this.store.fault?.message ?? 'damage', this.parts.clock.now(), this.parts.logger);
  }

  /** As a start: state back from the store, continuity checked, the parts running again. */
  private async resumeAfterRecovery(): Promise<void> {
    const damage = this.pendingDamage;
    this.pendingDamage = undefined;
    await this.pipeline.init();
    const journalCheck = await this.journal.init(this.pipeline.position, true);
    // In memory the next seq is exact (it moves only when a step commits): it binds, the reservation does not.
    const continuity = await this.outbox.init({ floor: this.outbox.upcomingSeq, binding: true });
    await this.recordLoss(damage, continuity.lost, journalCheck.missing, continuity.storedNextSeq);
    if (damage) {
      // The fresh store's records are all backlog now: the forwarder rescans from the oldest.
      this.outbox.rewound.notify();
      this.store.announceHealed();
    }
    await this.housekeeper.tick().catch(() => undefined);
    this.journal.release();
    this.forwarder.release();
    this.pipeline.start();
    this.housekeeper.start();
  }

  private writtenSinceStart(): Pick<StorageStats, 'written'> {
    const now = processWrites();
    if (!now || !this.writesAtStart) return {};
    const deviceBytes = now.writeBytes - this.writesAtStart.writeBytes;
    const writeCalls = now.wchar - this.writesAtStart.wchar;
    const per = (n: number) => (this.intake.accepted > 0 ? Math.round(n / this.intake.accepted) : null);
    return { written: { deviceBytes, writeCalls, deviceBytesPerReading: per(deviceBytes), writeCallsPerReading: per(writeCalls) } };
  }

  stats(): AgentStats {
    const drivers: AgentStats['drivers'] = {};
    for (const d of this.parts.drivers) drivers[d.name] = { ...d.health(), ...this.intake.refusals(d.name) };
    return {
      deviceId: this.parts.deviceId,
      boot: this.boot,
      startedAt: this.startedAt,
      readings: this.intake.accepted,
      journalBacklog: this.journal.lastPosition - this.pipeline.position,
      outboxDepth: this.outbox.depth,
      nextSeq: this.outbox.upcomingSeq,
      forwarder: this.forwarder.stats(),
      ...(this.drainer ? { paths: { files: this.drainer.stats() } } : {}),
      transport: this.parts.transport.status(),
      drivers,
      storage: {
        ...this.housekeeper.figures,
        ...this.writtenSinceStart(),
        bytes: this.outbox.bytes,
        quotaBytes: this.parts.config.storage.quotaBytes,
        evicted: { ...this.housekeeper.evicted },
        expired: { ...this.housekeeper.expired },
        evictedRanges: this.outbox.evictedRanges.list(),
      },
      alarms: [
        ...this.incidents.map((d) => ({ code: 'EDGE_STORE_DAMAGED' as const, message: damageMessage(d), since: d.at })),
        ...(this.store.fault ? [faultAlarm(this.store.fault, this.parts.config.dataDir)] : []),
        ...(this.store.damagedRecords > 0
          ? [{ code: 'EDGE_STORE_CORRUPT' as const, message: `${this.store.damagedRecords} damaged records failed their checksum and were quarantined (sublevel 'damaged')`, since: this.startedAt }]
          : []),
      ],
      ...(this.store.fault ? { storeFault: faultAlarm(this.store.fault, this.parts.config.dataDir) } : {}),
      deadband: { suppressed: this.suppressed.total, points: this.suppressed.list() },
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
    await this.recovery.stop();
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
    await this.drainer?.stop();
    await this.forwarder.stop();
    logger.debug('forwarder stopped');
    const clean = !this.store.fault;
    await this.store.close();
    // Exact now: the next start knows which seqs were used even if the store loses its newest writes.
    if (clean) {
      try {
        this.seqFloor.markClean(this.outbox.upcomingSeq);
      } catch (err) {
        // The reservation on disk stays: safe, only less exact (the next start may skip seqs).
        logger.warn({ err: errorMessage(err) }, 'could not record the exact next seq at stop');
      }
    }
    logger.info({ outbox: this.outbox.depth }, 'edge-agent stopped');
  }
}

function damageMessage(d: DamageIncident): string {
  const where = d.movedTo ? `; it was moved to ${d.movedTo} and a fresh one started (${d.salvaged ?? 0} entries salvaged)` : '';
  const lost = d.lostRecords > 0 ? `; ${d.lostRecords} records lost (seqs ${d.lostRanges.slice(0, 5).map((r) => (r.fromSeq === r.toSeq ? `${r.fromSeq}` : `${r.fromSeq}-${r.toSeq}`)).join(', ')}${d.lostRanges.length > 5 ? ', …' : ''}), reported to the cloud` : '';
  const readings = d.lostReadings > 0 ? `; ${d.lostReadings} journaled readings lost` : '';
  return `the buffer was damaged (${d.reason})${where}${lost}${readings}`;
}

function faultAlarm(fault: NonNullable<AgentStore['fault']>, dataDir: string): Alarm {
  return fault.kind === 'disk-full'
    ? { code: 'EDGE_DISK_FULL', message: `the disk holding ${dataDir} is full: new readings are refused and sending is held until space returns (${fault.message})`, since: fault.since }
    : { code: 'EDGE_STORE_DAMAGED', message: `the buffer is damaged and is being replaced (${fault.message})`, since: fault.since };
}

function stageFor(config: AgentConfig, logger: Logger, suppressed: SuppressedCounts): RecordStage {
  const { queries, tolerances, maxStateEntries, forwardReadings, inputs, reference } = config.analytics;
  const rules = new DeadbandRules(config.drivers.map(deadbandsOf));
  const deadband = rules.empty ? undefined : new Deadband(rules, suppressed);
  if (queries.length === 0) return deadband ? forwardingStage(deadband) : readingsStage;
  return new AnalyticsStage({ queries, tolerances, maxStateEntries, forwardReadings, inputs, reference: referenceSpecs(reference), logger: logger.child({ module: 'analytics' }), ...(deadband ? { deadband } : {}) });
  function referenceSpecs(r: AgentConfig['analytics']['reference']) {
    // The schema lets through exactly one of file and rows.
    return Object.fromEntries(Object.entries(r).map(([name, t]) => [name, t.file !== undefined ? { file: t.file, format: t.format, pollMs: t.pollMs } : { rows: t.rows ?? [] }]));
  }
}

function newPipeline(store: AgentStore, journal: Journal, outbox: Outbox, stage: RecordStage, config: AgentConfig, clock: Clock, logger: Logger): Pipeline {
  return new Pipeline(store, journal, outbox, stage, clock, logger.child({ module: 'pipeline' }), 2000, 1000, config.journal.sync === 'commit');
}
