import type { Clock } from '../../core/clock.js';
import { EdgeError, errorMessage } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import type { ConnectFailure } from '../connect-error.js';
import type { HubTarget, HubTargetSource, ProvisioningStatus } from '../hub-target.js';
import { loadAssignment, saveAssignment, type StoredAssignment } from './assignment-file.js';
import { registerWithDps, type DpsAssignment, type DpsCredentials, type DpsRequest } from './dps-register.js';

export interface ProvisionerOptions {
  dataDir: string;
  idScope: string;
  registrationId: string;
  globalEndpoint: string;
  attestation: ProvisioningStatus['attestation'];
  /** The device's own key (a group member's already derived) or its certificate. */
  credentials: DpsCredentials;
  ca?: string;
  timeoutMs: number;
  /** How long every connect must fail with "no such host" / "connection refused" before the hub counts as gone. */
  hubGoneAfterMs: number;
  /** Least time between two registrations the agent decides on itself (a `reprovision` call is not held back). */
  minIntervalMs: number;
  clock: Clock;
  logger: Logger;
}

/** A hub that is gone answers nothing: its name no longer resolves, or nothing listens. */
const HUB_GONE = /ENOTFOUND|ECONNREFUSED/;

/**
 * Zero-touch provisioning as the supervisor's {@link HubTargetSource}. The first boot registers
 * with DPS and stores the assignment; later boots use it without asking DPS. It registers
 * again when:
 * - the hub refuses the credentials: at once when it had accepted them since the last attempt
 *   (key revoked, device deleted or moved), else once `minIntervalMs` has passed since it;
 * - the hub looks gone: every connect for `hubGoneAfterMs` failed with ENOTFOUND/ECONNREFUSED.
 *   Timeouts, resets, CONNACK "server unavailable" and DNS's EAI_AGAIN are an ordinary outage
 *   (a hub that answers, or a network that is down) and restart that clock;
 * - a `reprovision` direct method asks.
 * Other automatic registrations are spaced `minIntervalMs` from the last attempt. When DPS cannot be reached or
 * refuses while an assignment is stored, the agent keeps the stored hub: losing DPS must never
 * cut off a box that can still reach its hub. Only the first boot waits for DPS.
 */
export class Provisioner implements HubTargetSource {
  private pending: string | undefined;
  private connectedSinceProvisioning = false;
  private unreachableSince: number | undefined;
  private registrations = 0;
  private lastError: ProvisioningStatus['lastError'];
  private readonly startedAs: string;
  /** The last registration attempt of this run, whatever came of it: automatic ones are spaced from it. */
  private lastAttemptAt: number | undefined;

  private constructor(
    private readonly options: ProvisionerOptions,
    private assignment: StoredAssignment | undefined,
  ) {
    if (!assignment) this.pending = 'first boot';
    this.startedAs = this.deviceId;
  }

  /** Reads the stored assignment; one of another scope or registration id is not used. */
  static async open(options: ProvisionerOptions): Promise<Provisioner> {
    const { value, problem } = await loadAssignment(options.dataDir);
    if (problem) options.logger.warn(problem);
    const fits = value && value.idScope === options.idScope && value.registrationId === options.registrationId;
    if (value && !fits) options.logger.warn({ stored: { idScope: value.idScope, registrationId: value.registrationId } }, 'the stored DPS assignment is for another identity; registering again');
    const p = new Provisioner(options, fits ? value : undefined);
    if (p.assignment) options.logger.info({ assignedHub: p.assignment.assignedHub, deviceId: p.assignment.deviceId }, 'using the stored DPS assignment');
    return p;
  }

  /** The device id records are sent under: the assigned one, else the registration id (DPS's default). */
  get deviceId(): string {
    return this.assignment?.deviceId ?? this.options.registrationId;
  }

  /** Registers again at the next connect (the caller then drops the current link). */
  request(reason: string): void {
    this.pending = reason;
  }

  async resolve(): Promise<HubTarget> {
    if (this.pending !== undefined) await this.provision(this.pending);
    const a = this.assignment!;
    const c = this.options.credentials;
    if ('symmetricKey' in c) return { connectionString: `HostName=${a.assignedHub};DeviceId=${a.deviceId};SharedAccessKey=${c.symmetricKey}` };
    return { connectionString: `HostName=${a.assignedHub};DeviceId=${a.deviceId};x509=true`, x509: c.x509 };
  }

  connected(): void {
    this.connectedSinceProvisioning = true;
    this.unreachableSince = undefined;
  }

  connectFailed(kind: ConnectFailure, err: EdgeError): void {
    const now = this.options.clock.now();
    if (this.pending !== undefined || !this.assignment) return;
    const attemptedRecently = this.lastAttemptAt !== undefined && now - this.lastAttemptAt < this.options.minIntervalMs;
    if (kind === 'unauthorized') {
      this.unreachableSince = undefined;
      // Accepted since the last attempt: the refusal is news (a revoked key, a moved device).
      if (this.connectedSinceProvisioning || !attemptedRecently) this.schedule('the hub refused the credentials', err);
      return;
    }
    if (!HUB_GONE.test(err.message)) {
      this.unreachableSince = undefined;
      return;
    }
    this.unreachableSince ??= now;
    const downFor = now - this.unreachableSince;
    if (downFor >= this.options.hubGoneAfterMs && !attemptedRecently) {
      this.schedule(`the hub has been unreachable for ${Math.round(downFor / 1000)} s`, err);
    }
  }

  status(): ProvisioningStatus {
    const o = this.options;
    const a = this.assignment;
    return {
      idScope: o.idScope,
      registrationId: o.registrationId,
      globalEndpoint: o.globalEndpoint,
      attestation: o.attestation,
      ...(a ? { assignedHub: a.assignedHub, deviceId: a.deviceId, last: { at: a.at, reason: a.reason, ...(a.substatus ? { substatus: a.substatus } : {}) } } : {}),
      ...(this.pending !== undefined ? { pending: this.pending } : {}),
      registrations: this.registrations,
      ...(this.lastError ? { lastError: this.lastError } : {}),
    };
  }

  private schedule(reason: string, err: EdgeError): void {
    this.options.logger.warn({ reason, err: err.message }, 'registering with DPS again');
    this.pending = reason;
  }

  private async provision(reason: string): Promise<void> {
    const o = this.options;
    const req: DpsRequest = { globalEndpoint: o.globalEndpoint, idScope: o.idScope, registrationId: o.registrationId, credentials: o.credentials, timeoutMs: o.timeoutMs, ...(o.ca ? { ca: o.ca } : {}) };
    this.lastAttemptAt = o.clock.now();
    this.connectedSinceProvisioning = false;
    let result: DpsAssignment;
    try {
      result = await registerWithDps(req, (fn, ms) => {
        const h = o.clock.setTimeout(fn, ms);
        return () => o.clock.clearTimeout(h);
      });
    } catch (err) {
      const e = err instanceof EdgeError ? err : new EdgeError('EDGE_PROVISIONING_UNAVAILABLE', errorMessage(err), { cause: err });
      this.lastError = { code: e.code, message: e.message, at: o.clock.now() };
      if (!this.assignment) throw e; // first boot: nothing to fall back on; the supervisor retries with backoff
      o.logger.warn({ code: e.code, err: e.message, keeping: this.assignment.assignedHub }, 'DPS registration failed; keeping the stored hub');
      this.pending = undefined;
      return;
    }
    this.lastError = undefined;
    const previous = this.assignment;
    const next: StoredAssignment = { version: 1, idScope: o.idScope, registrationId: o.registrationId, assignedHub: result.assignedHub, deviceId: result.deviceId, ...(result.substatus ? { substatus: result.substatus } : {}), at: o.clock.now(), reason };
    try {
      await saveAssignment(o.dataDir, next);
    } catch (err) {
      // Sending matters more than remembering: use it now, the next boot registers again.
      this.lastError = { code: 'EDGE_DATA_DIR_UNUSABLE', message: `the DPS assignment could not be saved: ${errorMessage(err)}`, at: o.clock.now() };
      o.logger.error({ err: errorMessage(err) }, 'the DPS assignment could not be saved; using it for this run only');
    }
    this.assignment = next;
    this.pending = undefined;
    this.registrations++;
    this.unreachableSince = undefined;
    o.logger.info({ reason, assignedHub: next.assignedHub, deviceId: next.deviceId, previousHub: previous?.assignedHub, substatus: next.substatus }, 'provisioned by DPS');
    if (next.deviceId !== this.startedAs) {
      o.logger.error({ was: this.startedAs, now: next.deviceId }, 'DPS assigned another device id; records keep the id this run started with until the agent restarts');
    }
  }
}
