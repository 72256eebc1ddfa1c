import { EdgeError } from '../../agent/core/errors.js';
import type { Clock, TimerHandle } from '../../agent/core/clock.js';
import { METHODS_FILTER, methodRequestTopic } from './topics.js';
import type { DeviceSessions } from './device-sessions.js';

/**
 * Direct methods, service side: the hub publishes `$iothub/methods/POST/<name>/?$rid=<id>` to one
 * device and waits for `$iothub/methods/res/<status>/?$rid=<id>` from that same device.
 */
export interface MethodResult {
  /** The status the device answered with. */
  status: number;
  /** The device's response body: parsed JSON, or the raw text when it is not JSON. */
  payload: unknown;
}

export interface InvokeOptions {
  /** How long to wait for the device's answer; IoT Hub's default is 30 s. */
  responseTimeoutMs?: number;
}

const DEFAULT_METHOD_TIMEOUT_MS = 30_000;

interface PendingCall {
  deviceId: string;
  methodName: string;
  resolve: (r: MethodResult) => void;
  reject: (err: unknown) => void;
  timer: TimerHandle;
}

export class MethodCalls {
  private readonly pending = new Map<string, PendingCall>();
  private nextRid = 1;

  constructor(
    private readonly sessions: DeviceSessions,
    private readonly clock: Clock,
  ) {}

  /**
   * Calls a method on a device. Fails at once with EDGE_HUB_DEVICE_OFFLINE (IoT Hub's 404) when
   * the device is not connected or has not subscribed to methods; with EDGE_HUB_METHOD_TIMEOUT
   * (IoT Hub's 504) when it does not answer in time.
   */
  invoke(deviceId: string, methodName: string, payload: unknown, options: InvokeOptions = {}): Promise<MethodResult> {
    const timeoutMs = options.responseTimeoutMs ?? DEFAULT_METHOD_TIMEOUT_MS;
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new TypeError(`responseTimeoutMs must be positive, got ${timeoutMs}`);
    if (!/^[^/#+?$\s]+$/.test(methodName)) throw new TypeError(`invalid method name "${methodName}"`);
    if (!this.sessions.isSubscribed(deviceId, METHODS_FILTER)) {
      return Promise.reject(new EdgeError('EDGE_HUB_DEVICE_OFFLINE', `device ${deviceId} is not online for direct methods (404)`));
    }
    // IoT Hub's request ids are hex counters; unique per hub is all a device relies on.
    const rid = (this.nextRid++).toString(16);
    const body = Buffer.from(payload === undefined ? 'null' : JSON.stringify(payload), 'utf8');
    return new Promise<MethodResult>((resolve, reject) => {
      const timer = this.clock.setTimeout(() => {
        if (!this.pending.delete(rid)) return;
        reject(new EdgeError('EDGE_HUB_METHOD_TIMEOUT', `device ${deviceId} did not answer method ${methodName} within ${timeoutMs} ms (504)`));
      }, timeoutMs);
      this.pending.set(rid, { deviceId, methodName, resolve, reject, timer });
      void this.sessions.send(deviceId, { topic: methodRequestTopic(methodName, rid), payload: body, qos: 0 }).then((sent) => {
        if (sent || !this.pending.has(rid)) return;
        this.pending.delete(rid);
        this.clock.clearTimeout(timer);
        reject(new EdgeError('EDGE_HUB_DEVICE_OFFLINE', `device ${deviceId} went offline before method ${methodName} could be sent (404)`));
      });
    });
  }

  /** A device's answer. Answers to unknown ids, or from another device, are ignored. */
  onResponse(deviceId: string, rid: string, status: number, body: Buffer): void {
    const call = this.pending.get(rid);
    if (!call || call.deviceId !== deviceId) return;
    this.pending.delete(rid);
    this.clock.clearTimeout(call.timer);
    const text = body.toString('utf8');
    let payload: unknown = text;
    try {
      payload = text === '' ? null : JSON.parse(text);
    } catch {
      // Not JSON: hand the text back as it came.
    }
    call.resolve({ status, payload });
  }

  /** Fails every pending call (the hub is stopping). */
  abortAll(reason: EdgeError): void {
    for (const [rid, call] of this.pending) {
      this.clock.clearTimeout(call.timer);
      this.pending.delete(rid);
      call.reject(reason);
    }
  }
}
