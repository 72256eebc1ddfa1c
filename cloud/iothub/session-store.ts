import { join } from 'node:path';
import { EdgeError } from '../../agent/core/errors.js';
import { CoalescingWriter, readJsonFile } from './atomic-file.js';

/**
 * Persistent MQTT sessions (`clean: false`, which the SDK always asks for): the subscriptions of
 * each device, kept in `dataDir/sessions.json` and handed back to aedes on start.
 *
 * IoT Hub keeps a device's session across the device's reconnects and the hub's own restarts,
 * so after an emulator restart a device reconnecting with `clean: false` gets CONNACK
 * `sessionPresent: true` and its subscriptions are in force without a new SUBSCRIBE (mqtt.js
 * would re-subscribe on `sessionPresent: false` anyway; this keeps the emulator faithful for
 * clients that do not). Only subscriptions are kept; queued QoS 1 messages are not (a known gap).
 */
export interface StoredSubscription {
  topic: string;
  qos: number;
}

function sessionsPath(dataDir: string): string {
  return join(dataDir, 'sessions.json');
}

export class SessionStore {
  private readonly sessions = new Map<string, Map<string, number>>();
  private readonly writer: CoalescingWriter;

  private constructor(path: string) {
    this.writer = new CoalescingWriter(path, () => {
      const doc: Record<string, StoredSubscription[]> = {};
      for (const [id, subs] of this.sessions) doc[id] = [...subs].map(([topic, qos]) => ({ topic, qos }));
      return JSON.stringify({ version: 1, sessions: doc }) + '\n';
    });
  }

  /** Waits for file writes in flight (the emulator stops only after them). */
  settled(): Promise<void> {
    return this.writer.settled();
  }

  static async open(dataDir: string): Promise<SessionStore> {
    const path = sessionsPath(dataDir);
    const store = new SessionStore(path);
    const doc = await readJsonFile(path);
    if (doc !== undefined) {
      const sessions = (doc as { sessions?: unknown }).sessions;
      if (typeof sessions !== 'object' || sessions === null) throw new EdgeError('EDGE_STORE_CORRUPT', `session file ${path} has no "sessions" object`);
      for (const [id, subs] of Object.entries(sessions as Record<string, StoredSubscription[]>)) {
        store.sessions.set(id, new Map(subs.map((s) => [s.topic, s.qos])));
      }
    }
    return store;
  }

  all(): Array<{ deviceId: string; subscriptions: StoredSubscription[] }> {
    return [...this.sessions].map(([deviceId, subs]) => ({ deviceId, subscriptions: [...subs].map(([topic, qos]) => ({ topic, qos })) }));
  }

  subscribed(deviceId: string, subs: readonly StoredSubscription[]): Promise<void> {
    const granted = subs.filter((s) => s.qos !== 128);
    if (granted.length === 0) return Promise.resolve();
    let map = this.sessions.get(deviceId);
    if (!map) this.sessions.set(deviceId, (map = new Map()));
    for (const s of granted) map.set(s.topic, s.qos);
    return this.writer.save();
  }

  unsubscribed(deviceId: string, topics: readonly string[]): Promise<void> {
    const map = this.sessions.get(deviceId);
    if (!map) return Promise.resolve();
    for (const t of topics) map.delete(t);
    if (map.size === 0) this.sessions.delete(deviceId);
    return this.writer.save();
  }

  /** A clean CONNECT (or a removed device) discards the session. */
  discard(deviceId: string): Promise<void> {
    if (!this.sessions.delete(deviceId)) return Promise.resolve();
    return this.writer.save();
  }
}
