import { randomUUID } from 'node:crypto';
import { EdgeError } from '../../agent/core/errors.js';
import type { DeviceSessions } from './device-sessions.js';
import { encodePropertyBag } from './property-bag.js';
import { c2dFilter, c2dTopic } from './topics.js';

/**
 * Cloud-to-device messages: delivered at QoS 1 on `devices/<id>/messages/devicebound/<bag>`.
 * Like IoT Hub, messages for a device that is offline (or not yet subscribed) wait in a per-device
 * queue (at most 50, IoT Hub's limit) and go out when it subscribes. The queue lives in memory:
 * it does not survive an emulator restart (a known gap).
 */
export interface C2DOptions {
  messageId?: string;
  correlationId?: string;
  contentType?: string;
  contentEncoding?: string;
  /** Application properties. */
  properties?: Record<string, string>;
}

export interface C2DResult {
  messageId: string;
  /** True when sent now; false when queued for the device's next subscription. */
  delivered: boolean;
}

const C2D_QUEUE_LIMIT = 50;

interface Queued {
  topic: string;
  payload: Buffer;
}

export class CloudToDevice {
  private readonly queues = new Map<string, Queued[]>();
  private readonly flushing = new Map<string, Promise<void>>();

  constructor(private readonly sessions: DeviceSessions) {}

  async send(deviceId: string, body: Buffer | string, options: C2DOptions = {}): Promise<C2DResult> {
    const messageId = options.messageId ?? randomUUID();
    const system: Record<string, string> = { 'message-id': messageId };
    if (options.correlationId) system['correlation-id'] = options.correlationId;
    if (options.contentType) system['content-type'] = options.contentType;
    if (options.contentEncoding) system['content-encoding'] = options.contentEncoding;
    const item: Queued = {
      topic: c2dTopic(deviceId, encodePropertyBag(system, options.properties ?? {})),
      payload: typeof body === 'string' ? Buffer.from(body, 'utf8') : body,
    };
    const queue = this.queues.get(deviceId) ?? [];
    if (queue.length >= C2D_QUEUE_LIMIT) {
      throw new EdgeError('EDGE_BUFFER_FULL', `device ${deviceId} already has ${C2D_QUEUE_LIMIT} cloud-to-device messages waiting`);
    }
    // Always through the queue, so a message sent now cannot overtake one that waited.
    queue.push(item);
    this.queues.set(deviceId, queue);
    await this.flush(deviceId);
    return { messageId, delivered: !queue.includes(item) };
  }

  /** Sends what waits for a device, in order, if it is subscribed. One flush per device at a time. */
  flush(deviceId: string): Promise<void> {
    const previous = this.flushing.get(deviceId) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(() => this.drain(deviceId));
    this.flushing.set(deviceId, next);
    const forget = (): void => {
      if (this.flushing.get(deviceId) === next) this.flushing.delete(deviceId);
    };
    next.then(forget, forget);
    return next;
  }

  private async drain(deviceId: string): Promise<void> {
    const queue = this.queues.get(deviceId);
    if (!queue || !this.sessions.isSubscribed(deviceId, c2dFilter(deviceId))) return;
    while (queue.length > 0) {
      if (!(await this.deliver(deviceId, queue[0]!))) return;
      queue.shift();
    }
    this.queues.delete(deviceId);
  }

  queued(deviceId: string): number {
    return this.queues.get(deviceId)?.length ?? 0;
  }

  private deliver(deviceId: string, item: Queued): Promise<boolean> {
    return this.sessions.send(deviceId, { topic: item.topic, payload: item.payload, qos: 1 });
  }
}
