import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeWireMessage } from '../../../agent/core/wire.js';
import type { ReconcilerSource, SourceEvent } from '../../../cloud/reconciler/source.js';
import { AgentScript, packMessage, toTelemetry, type Telemetry } from './support/wire-builder.js';

/** A running source plus a way to put messages into it (the way devices would). */
export interface SourceUnderTest {
  source: ReconcilerSource;
  /** Publishes in order; resolves once the hub has stored them. */
  publish(messages: Telemetry[]): Promise<void>;
  close(): Promise<void>;
}

export interface SourceFactory {
  name: string;
  create(): Promise<SourceUnderTest>;
  /** How long a push-based source may take to deliver what was published. */
  deliveryTimeoutMs: number;
}

/** Polls `read` until `count` events arrived or the deadline passes (push sources buffer asynchronously). */
async function readN(source: ReconcilerSource, partitionId: string, from: number, count: number, timeoutMs: number): Promise<SourceEvent[]> {
  const out: SourceEvent[] = [];
  let next = from;
  const deadline = Date.now() + timeoutMs;
  while (out.length < count) {
    const batch = await source.read(partitionId, next, count - out.length);
    out.push(...batch.events);
    next = batch.next;
    if (batch.events.length === 0) {
      if (Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  return out;
}

/** The ReconcilerSource contract (cloud/reconciler/source.ts), run against every source that can run here. */
export function sourceConformance(factory: SourceFactory): void {
  describe(`ReconcilerSource conformance: ${factory.name}`, () => {
    let sut: SourceUnderTest;
    const devices = ['conf-a', 'conf-b', 'conf-c'];
    const perDevice = 6;
    const sent = new Map<string, number[]>();

    beforeAll(async () => {
      sut = await factory.create();
      await sut.source.open(async () => new Map());
      const messages: Telemetry[] = [];
      for (const d of devices) {
        const agent = new AgentScript(d, 'boot-1');
        const seqs: number[] = [];
        for (let i = 0; i < perDevice; i++) {
          const r = agent.reading({ t: 1_000 + i, at: 1_010 + i, src: 'sim', pt: 'p', v: i, q: 'good' });
          seqs.push(r.seq);
          messages.push(toTelemetry(packMessage(d, agent.boot, [r]), { gzip: i % 2 === 1 }));
        }
        sent.set(d, seqs);
      }
      await sut.publish(messages);
    });
    afterAll(async () => {
      await sut?.source.close();
      await sut?.close();
    });

    async function everything(): Promise<Map<string, SourceEvent[]>> {
      const byPartition = new Map<string, SourceEvent[]>();
      const deadline = Date.now() + factory.deliveryTimeoutMs;
      let total = 0;
      while (total < devices.length * perDevice && Date.now() <= deadline) {
        total = 0;
        for (const p of await sut.source.partitionIds()) {
          const events = await readN(sut.source, p, 0, 1000, 50);
          byPartition.set(p, events);
          total += events.length;
        }
      }
      return byPartition;
    }

    it('lists partitions and keeps each device in one partition, in publish order', async () => {
      expect((await sut.source.partitionIds()).length).toBeGreaterThan(0);
      const byPartition = await everything();
      for (const d of devices) {
        const homes = [...byPartition].filter(([, events]) => events.some((e) => e.deviceId === d));
        expect(homes, `device ${d} partitions`).toHaveLength(1);
        const events = homes[0]![1].filter((e) => e.deviceId === d);
        const seqs = events.map((e) => decodeWireMessage(e.body, e.systemProperties['content-encoding']).records[0]!.seq);
        expect(seqs).toEqual(sent.get(d));
      }
    });

    it('reads from a position, at most max, dense sequence numbers, and says where to go next', async () => {
      const [partitionId, events] = [...(await everything())].find(([, e]) => e.length >= 3)!;
      const first = events[0]!.sequenceNumber;
      const batch = await sut.source.read(partitionId, first + 1, 2);
      expect(batch.events.map((e) => e.sequenceNumber)).toEqual([first + 1, first + 2]);
      expect(batch.next).toBe(first + 3);
      expect(batch.lastOffset).toBe(batch.events[1]!.offset);
      expect(batch.events.every((e) => e.partitionId === partitionId)).toBe(true);
    });

    it('reading the same range twice gives the same events (replay after a crash)', async () => {
      const [partitionId, events] = [...(await everything())].find(([, e]) => e.length > 0)!;
      const again = await sut.source.read(partitionId, events[0]!.sequenceNumber, events.length);
      const strip = (e: SourceEvent) => ({ ...e, body: e.body.toString('base64') });
      expect(again.events.map(strip)).toEqual(events.map(strip));
    });

    it('past the end: no events, next stays put', async () => {
      const [partitionId, events] = [...(await everything())][0]!;
      const end = events.length === 0 ? 0 : events.at(-1)!.sequenceNumber + 1;
      expect(await sut.source.read(partitionId, end, 10)).toEqual({ partitionId, events: [], next: end, lastOffset: null });
    });

    it('carries the hub times, the wire properties and the content encoding the body needs', async () => {
      const all = [...(await everything()).values()].flat();
      expect(all).toHaveLength(devices.length * perDevice);
      for (const e of all) {
        expect(Number.isSafeInteger(e.enqueuedTime)).toBe(true);
        const message = decodeWireMessage(e.body, e.systemProperties['content-encoding']);
        expect(message.device).toBe(e.deviceId);
        expect(e.properties).toMatchObject({ v: '1', kind: 'reading', count: '1', seqFrom: String(message.records[0]!.seq) });
      }
      expect(all.filter((e) => e.systemProperties['content-encoding'] === 'gzip')).toHaveLength(devices.length * (perDevice / 2));
    });
  });
}
