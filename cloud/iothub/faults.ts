import type { Clock } from '../../agent/core/clock.js';

/**
 * Fault state the emulator consults: tests (through the TypeScript API or HTTP) switch faults on
 * and off; the connection, CONNECT and telemetry paths ask it what to do.
 *
 * Held PUBACKs: the message *is* stored in the message log first, and only the ack is held. That
 * is the realistic failure (PUBACK means "stored" on IoT Hub; what a device can lose is the ack),
 * and it is the case that produces duplicates the reconciler must remove. A device that never
 * gets its ack resends after reconnecting, so the log then holds the message twice.
 */
export type RefuseMode =
  /** Accept TCP, then drop it before TLS completes: the device sees a reset / socket hang-up. */
  | 'reset'
  /** Complete TLS and answer CONNECT with "server unavailable" (CONNACK 3), as a throttled hub. */
  | 'server-unavailable';

export interface RefuseOptions {
  /** How long to refuse, from now (by the emulator's clock); omitted = until `acceptConnections()`. */
  durationMs?: number;
  mode?: RefuseMode;
}

export interface FaultStatus {
  refusing: { mode: RefuseMode; untilMs: number | null } | null;
  heldAcks: Record<string, number>;
  holdingAcksFor: string[];
}

/** The side effects a fault needs from the emulator (implemented by it). */
export interface FaultTargets {
  /** Closes the device's current connection; false when it has none. */
  cutConnection(deviceId: string): boolean;
  /** Makes the device's current connection half-open; false when it has none. */
  silenceConnection(deviceId: string): boolean;
}

export class FaultInjector {
  private refuse: { mode: RefuseMode; untilMs: number | null } | null = null;
  private readonly holding = new Set<string>();
  private readonly parked = new Map<string, Array<() => void>>();

  constructor(
    private readonly clock: Clock,
    private readonly targets: FaultTargets,
  ) {}

  /** Drops the device's connection now (the device sees it close). */
  dropConnection(deviceId: string): boolean {
    return this.targets.cutConnection(deviceId);
  }

  /** Stops reading and writing on the device's connection without closing it (half-open). */
  goSilent(deviceId: string): boolean {
    return this.targets.silenceConnection(deviceId);
  }

  /** Refuses every new connection for a while (or until {@link acceptConnections}). */
  refuseConnections(options: RefuseOptions = {}): void {
    const { durationMs, mode = 'reset' } = options;
    if (durationMs !== undefined && (!Number.isFinite(durationMs) || durationMs < 0)) {
      throw new TypeError(`durationMs must be a non-negative number, got ${durationMs}`);
    }
    this.refuse = { mode, untilMs: durationMs === undefined ? null : this.clock.now() + durationMs };
  }

  acceptConnections(): void {
    this.refuse = null;
  }

  /** The refusal in force now, if any. */
  refusing(): RefuseMode | undefined {
    if (!this.refuse) return undefined;
    if (this.refuse.untilMs !== null && this.clock.now() >= this.refuse.untilMs) {
      this.refuse = null;
      return undefined;
    }
    return this.refuse.mode;
  }

  /** From now on, the device's telemetry is stored but its PUBACKs are held back. */
  holdAcks(deviceId: string): void {
    this.holding.add(deviceId);
  }

  /**
   * Stops holding the device's PUBACKs. `deliver: true` (default) sends the held ones now (on the
   * connection they belong to, if it is still up); `deliver: false` discards them: "ack lost".
   * Returns how many were held.
   */
  releaseAcks(deviceId: string, options: { deliver?: boolean } = {}): number {
    this.holding.delete(deviceId);
    const acks = this.parked.get(deviceId) ?? [];
    this.parked.delete(deviceId);
    if (options.deliver ?? true) for (const ack of acks) ack();
    return acks.length;
  }

  /** True when the telemetry path must park this device's ack instead of sending it. */
  isHoldingAcks(deviceId: string): boolean {
    return this.holding.has(deviceId);
  }

  park(deviceId: string, sendAck: () => void): void {
    let list = this.parked.get(deviceId);
    if (!list) this.parked.set(deviceId, (list = []));
    list.push(sendAck);
  }

  heldAckCount(deviceId: string): number {
    return this.parked.get(deviceId)?.length ?? 0;
  }

  /** Clears every fault (held acks are discarded). */
  clearAll(): void {
    this.refuse = null;
    this.holding.clear();
    this.parked.clear();
  }

  status(): FaultStatus {
    this.refusing();
    return {
      refusing: this.refuse ? { ...this.refuse } : null,
      heldAcks: Object.fromEntries([...this.parked].map(([id, l]) => [id, l.length])),
      holdingAcksFor: [...this.holding],
    };
  }
}
