import { errorMessage } from '../core/errors.js';
import type { Clock, TimerHandle } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { JsonObject } from '../config/overlay.js';
import type { DeviceClient, HubLink } from '../transport/hub-link.js';
import type { DesiredController } from './desired-controller.js';
import type { ReportThrottle } from './report-throttle.js';

type Twin = Awaited<ReturnType<DeviceClient['getTwin']>>;

const REPORT_TIMEOUT_MS = 30_000;

export interface TwinSyncDeps {
  supervisor: HubLink;
  controller: DesiredController;
  throttle: ReportThrottle;
  /** The reported sections that do not come from the controller: agent identity, health. */
  agentInfo: () => JsonObject;
  health: () => JsonObject;
  healthIntervalMs: () => number;
  clock: Clock;
  logger: Logger;
}

/**
 * Binds the device twin to each fresh client the supervisor connects. After *every* connect it
 * GETs the whole twin and offers the desired section by `$version` (the SDK does not replay
 * changes made while the device was offline: azure-iot-sdk-node #885); pushed patches go to the
 * controller as they come. Its GET is also the supervisor's liveness probe, so a quiet link
 * both proves itself alive and catches a missed patch. Reported properties leave through the
 * throttle; a full report follows each connect.
 */
export class TwinSync {
  private twin: Twin | undefined;
  private healthTimer: TimerHandle | undefined;
  private stopped = false;
  /** Whole documents the SDK holds: it re-emits them (on GET, on a new listener); they are not patches. */
  private readonly wholeDocs = new WeakSet<object>();

  constructor(private readonly deps: TwinSyncDeps) {}

  start(): void {
    const { supervisor, throttle } = this.deps;
    supervisor.useLivenessProbe((client) => this.fetch(client));
    supervisor.onConnected((client) => void this.attach(client));
    supervisor.onStatus((s) => {
      if (s.state !== 'connected') {
        this.twin = undefined;
        throttle.setOnline(false);
      }
    });
    this.scheduleHealth();
  }

  stop(): void {
    this.stopped = true;
    if (this.healthTimer) this.deps.clock.clearTimeout(this.healthTimer);
    this.deps.throttle.stop();
  }

  /** Sends reported properties through the current twin; rejects while offline (the throttle keeps them). */
  async sendReported(patch: JsonObject): Promise<void> {
    const twin = this.twin;
    if (!twin) throw new Error('not connected');
    // Bounded: on a half-open link the SDK's callback never comes, and the throttle would wait forever.
    const { clock } = this.deps;
    await new Promise<void>((resolve, reject) => {
      const timer = clock.setTimeout(() => reject(new Error(`no answer to the reported-properties update within ${REPORT_TIMEOUT_MS} ms`)), REPORT_TIMEOUT_MS);
      twin.properties.reported.update(patch, (err?: Error) => {
        clock.clearTimeout(timer);
        if (err) reject(err);
        else resolve();
      });
    });
    this.deps.supervisor.heard();
  }

  /** Fetches the whole twin again and offers its desired section (resync after a version gap). */
  resync(): void {
    const client = this.deps.supervisor.connectedClient;
    if (client) this.fetch(client).catch((err: unknown) => this.deps.logger.warn({ err: errorMessage(err) }, 'twin GET failed'));
  }

  private async attach(client: DeviceClient): Promise<void> {
    const { logger, controller, throttle, supervisor } = this.deps;
    try {
      const twin = await this.fetch(client);
      if (supervisor.connectedClient !== client) return;
      twin.on('error', (err: Error) => logger.warn({ err: errorMessage(err) }, 'twin error'));
      twin.on('properties.desired', (delta: unknown) => {
        // The SDK also fires this with its whole cached document (on GET and on subscribing): those are not patches.
        if (delta === twin.properties.desired || (typeof delta === 'object' && delta !== null && this.wholeDocs.has(delta))) return;
        supervisor.heard();
        void controller.offerPatch(delta);
      });
      this.twin = twin;
      // Subscribing happened just now, after the first GET: a patch made in between would be
      // missed, so GET once more (MQTT keeps order: the answer comes after the SUBACK).
      await this.fetch(client);
      throttle.push({ agent: this.deps.agentInfo(), ...controller.reportedConfig(), health: this.deps.health() });
      throttle.setOnline(true);
    } catch (err) {
      logger.warn({ err: errorMessage(err) }, 'twin not available on this connection; the liveness probe will retry');
    }
  }

  private async fetch(client: DeviceClient): Promise<Twin> {
    const twin = await client.getTwin();
    this.wholeDocs.add(twin.properties.desired);
    this.deps.supervisor.heard();
    // Not awaited: a slow live apply (a driver starting) must not make the probe look dead.
    void this.deps.controller.offerFull({ ...twin.properties.desired });
    return twin;
  }

  private scheduleHealth(): void {
    if (this.stopped) return;
    this.healthTimer = this.deps.clock.setTimeout(() => {
      this.deps.throttle.push({ health: this.deps.health() });
      this.scheduleHealth();
    }, this.deps.healthIntervalMs());
  }
}
