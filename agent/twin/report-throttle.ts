import type { Clock, TimerHandle } from '../core/clock.js';
import { errorMessage } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { isJsonObject, type JsonObject } from '../config/overlay.js';

/**
 * Reported-property updates, coalesced so that a device sends at most one every `minIntervalMs`
 * whatever happens (IoT Hub S1 allows 50 twin updates/s for the whole hub, and answers 429 or
 * drops the connection beyond). Patches pushed in between are merged, later values winning and
 * `null`s (deletes) kept, so nothing reported is lost, only batched. A failed update is merged
 * back and retried after the interval; while offline nothing is attempted.
 */
export class ReportThrottle {
  private pending: JsonObject | undefined;
  private timer: TimerHandle | undefined;
  private sending = false;
  private lastSentAt = -Infinity;
  private online = false;
  private stopped = false;
  /** Updates the hub accepted; for tests and diagnostics. */
  sent = 0;

  constructor(
    private readonly options: {
      minIntervalMs: number;
      clock: Clock;
      logger: Logger;
      send: (patch: JsonObject) => Promise<void>;
      /** Called after each accepted update (tests wait on it). */
      onSent?: (patch: JsonObject) => void;
    },
  ) {}

  set minIntervalMs(ms: number) {
    this.options.minIntervalMs = ms;
  }

  push(patch: JsonObject): void {
    this.pending = this.pending ? mergeKeepingNulls(this.pending, patch) : patch;
    this.schedule();
  }

  setOnline(online: boolean): void {
    this.online = online;
    if (online) this.schedule();
  }

  /** The merged patch still waiting, if any (diagnostics). */
  get waiting(): JsonObject | undefined {
    return this.pending;
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) this.options.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(): void {
    if (this.stopped || !this.online || this.sending || this.timer || !this.pending) return;
    const { clock } = this.options;
    const wait = Math.max(0, this.lastSentAt + this.options.minIntervalMs - clock.now());
    this.timer = clock.setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, wait);
  }

  private async flush(): Promise<void> {
    const patch = this.pending;
    if (!patch || this.stopped || !this.online) return;
    this.pending = undefined;
    this.sending = true;
    try {
      await this.options.send(patch);
      this.sent++;
      this.options.onSent?.(patch);
    } catch (err) {
      this.options.logger.debug({ err: errorMessage(err) }, 'reported properties not sent; will retry');
      this.pending = this.pending ? mergeKeepingNulls(patch, this.pending) : patch;
    } finally {
      this.sending = false;
      // Counted from the answer, so both starts and answers are at least the interval apart.
      this.lastSentAt = this.options.clock.now();
    }
    this.schedule();
  }
}

/** Like a merge patch composed with another: later wins, objects merge, nulls stay as deletes. */
export function mergeKeepingNulls(a: JsonObject, b: JsonObject): JsonObject {
  const out: JsonObject = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const prev = out[k];
    out[k] = isJsonObject(prev) && isJsonObject(v) ? mergeKeepingNulls(prev, v) : v;
  }
  return out;
}
