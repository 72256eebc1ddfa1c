import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeWireMessage } from '../../../agent/core/wire.js';
import type { ReconcilerSource, SourceEvent } from '../../../cloud/reconciler/source.js';
import { AgentScript, packMessage, toTelemetry, type Telemetry } from './support/wire-builder.js';

/** A running source plus a way to put messages into it (the way devices would). */
export interface SourceUnderTest {
  source: ReconcilerSource;
  /** Publishes in order; resolves once the hub has stored them. */
  publish(messages: Telemetry[]): Promise<void>;
  /**
   * Resolves once `count` published events can be read. A log is readable as soon as `publish`
   * resolved; a push source says when its client has buffered them (an event, not a poll).
   */
  readable(count: number): Promise<void>;
  close(): Promise<void>;
}

export interface SourceFactory {
  name: string;
  create(): Promise<SourceUnderTest>;
  /** How long setting up, publishing and delivery may take (a push source over the internet is slow). */
  setupTimeoutMs: number;
}

/** Everything a partition holds from `from` on, page by page (`max` per read) until a read comes back empty. */
async function readAll(source: ReconcilerSource, partitionId: string, from: number, max: number): Promise<SourceEvent[]> {
  const out: SourceEvent[] = [];
  let next = from;
  for (;;) {
    const batch = await source.read(partitionId, next, max);
    if (batch.events.length === 0) return out;
    out.push(...batch.events);
    next = batch.next;
  }
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
      await sut.readable(messages.length);
    }, factory.setupTimeoutMs);
    afterAll(async () => {
      await sut?.source.close();
      await sut?.close();
    });

    /** What every partition holds; all of it was readable before the first test (see `readable`). */
    async function everything(): Promise<Map<string, SourceEvent[]>> {
      const byPartition = new Map<string, SourceEvent[]>();
      for (const p of await sut.source.partitionIds()) byPartition.set(p, await readAll(sut.source, p, 0, 4));
      const total = [...byPartition.values()].reduce((n, events) => n + events.length, 0);
      expect(total, 'events readable once published').toBe(devices.length * perDevice);
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
