import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  EventHubConsumerClient,
  earliestEventPosition,
  latestEventPosition,
  type EventPosition,
  type ReceivedEventData,
  type Subscription,
} from '@azure/event-hubs';
import deviceSdk from 'azure-iot-device';
import { ManualClock } from '../../../agent/core/clock.js';
import { IotHubEmulator, MessageLog, type HubEvent } from '../../../cloud/iothub/index.js';
import { loadPolicies } from '../../../cloud/iothub/amqp/index.js';
import { toSourceEvent } from '../../../cloud/reconciler/sources/event-hubs-source.js';
import { closeQuietly, connectDevice, tempDir } from './helpers.js';

// The official @azure/event-hubs consumer against the emulator's AMQP endpoint: what it reads
// must be the message log, event for event, and its positions must resume exactly.

const T0 = Date.UTC(2026, 0, 1);
const DEVICES = ['press-1', 'press-2', 'oven-7', 'pump-3', 'line-9'];
const PER_DEVICE = 12;

let hub: IotHubEmulator;
let dir: string;
let cleanup: () => Promise<void>;
let logged: HubEvent[];
let connectionString: string;
const clients: EventHubConsumerClient[] = [];

function consumer(cs = connectionString, group = '$Default'): EventHubConsumerClient {
  const c = new EventHubConsumerClient(group, cs, { retryOptions: { maxRetries: 1, retryDelayInMs: 50, timeoutInMs: 10_000 } });
  clients.push(c);
  return c;
}

/** Everything the log holds now, partition by partition. */
async function logContents(log: { partitionCount: number; read(p: number, from: number, max: number): Promise<HubEvent[]>; endOf(p: number): Promise<number> }): Promise<HubEvent[]> {
  const out: HubEvent[] = [];
  for (let p = 0; p < log.partitionCount; p++) out.push(...(await log.read(p, 0, await log.endOf(p))));
  return out;
}

/**
 * Subscribes (one partition or all) from a position and resolves once `count` events arrived;
 * rejects on the first error the client reports.
 */
function receive(client: EventHubConsumerClient, count: number, startPosition: EventPosition, partitionId?: string): Promise<ReceivedEventData[]> {
  const got: ReceivedEventData[] = [];
  let sub: Subscription | undefined;
  return new Promise<ReceivedEventData[]>((resolve, reject) => {
    const handlers = {
      processEvents: async (events: ReceivedEventData[]) => {
        got.push(...events);
        if (got.length >= count) resolve(got);
      },
      processError: async (err: Error) => reject(err),
    };
    const options = { startPosition, skipParsingBodyAsJson: true, maxBatchSize: 50, maxWaitTimeInSeconds: 1 };
    sub = partitionId === undefined ? client.subscribe(handlers, options) : client.subscribe(partitionId, handlers, options);
  }).finally(() => sub?.close());
}

/** The log's view of one event next to the SDK's, in the reconciler's shape. */
function asLogged(e: HubEvent) {
  return {
    partitionId: String(e.partition),
    sequenceNumber: e.sequenceNumber,
    offset: String(e.offset),
    enqueuedTime: e.enqueuedTime,
    deviceId: e.deviceId,
    systemProperties: e.systemProperties,
    properties: e.properties,
    body: e.body,
  };
}

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir('amqp-'));
  // A log written before the endpoint starts, with distinct enqueued times (1 s apart).
  const clock = new ManualClock(T0);
  const log = await MessageLog.open(dir, { partitionCount: 4, clock });
  for (let i = 0; i < PER_DEVICE; i++) {
    for (const d of DEVICES) {
      clock.advance(1000);
      await log.append({
        deviceId: d,
        systemProperties: { 'message-id': `${d}-${i}`, 'content-type': 'application/json', 'content-encoding': i % 2 ? 'gzip' : 'utf-8', 'correlation-id': `c-${i}` },
        properties: { v: '1', kind: 'records', seqFrom: String(i * 10), seqTo: String(i * 10 + 9) },
        body: Buffer.from(JSON.stringify({ d, i, pad: 'x'.repeat(i * 7) })),
      });
    }
  }
  await log.close();
  hub = await IotHubEmulator.start({ dataDir: dir, amqpPort: 0, clock: new ManualClock(T0 + 3_600_000) });
  connectionString = hub.eventHubsConnectionString()!;
  logged = await logContents(hub.messageLog);
}, 60_000);

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
  await hub?.stop();
  await cleanup?.();
});

describe('AMQP Event Hub-compatible endpoint, read by the real EventHubConsumerClient', () => {
  it('prints a connection string the SDK takes: service policy, the endpoint port, plain AMQP', () => {
    expect(connectionString).toMatch(/^Endpoint=sb:\/\/127\.0\.0\.1:\d+\/;SharedAccessKeyName=service;SharedAccessKey=[^;]+;EntityPath=[^;]+;UseDevelopmentEmulator=true$/);
    expect(connectionString).not.toContain(':5671');
  });

  it('$management: hub properties and each partition’s properties are the log’s', async () => {
    const client = consumer();
    const props = await client.getEventHubProperties();
    expect(props.partitionIds).toEqual(['0', '1', '2', '3']);
    expect(props.name).toBe(/EntityPath=([^;]+)/.exec(connectionString)![1]);
    const { createdAt } = await loadPolicies(dir, 0);
    expect(props.createdOn.getTime()).toBe(createdAt);
    for (let p = 0; p < 4; p++) {
      const mine = logged.filter((e) => e.partition === p);
      const last = mine.at(-1);
      const pp = await client.getPartitionProperties(String(p));
      expect(pp).toMatchObject({ partitionId: String(p), beginningSequenceNumber: 0, isEmpty: mine.length === 0 });
      expect(pp.lastEnqueuedSequenceNumber).toBe(last ? last.sequenceNumber : -1);
      expect(pp.lastEnqueuedOffset).toBe(last ? String(last.offset) : '-1');
      if (last) expect(pp.lastEnqueuedOnUtc.getTime()).toBe(last.enqueuedTime);
    }
  });

  it('from earliest: every event of every partition, body, properties, offset and enqueued time equal to the log', async () => {
    expect(logged.length).toBe(DEVICES.length * PER_DEVICE);
    const got = await receive(consumer(), logged.length, earliestEventPosition);
    expect(got.length).toBe(logged.length);
    const partitionOf = new Map(logged.map((e) => [`${e.deviceId}/${e.sequenceNumber}/${e.offset}`, e.partition]));
    const mapped = got.map((e) => {
      const p = partitionOf.get(`${String(e.systemProperties?.['iothub-connection-device-id'])}/${e.sequenceNumber}/${e.offset}`);
      return toSourceEvent(e, String(p));
    });
    const order = (a: { partitionId: string; sequenceNumber: number }, b: { partitionId: string; sequenceNumber: number }) =>
      Number(a.partitionId) - Number(b.partitionId) || a.sequenceNumber - b.sequenceNumber;
    expect(mapped.sort(order)).toEqual(logged.map(asLogged).sort(order));
    // The SDK's own fields, not only the mapping: offsets are strings, ids and types where AMQP puts them.
    const first = got.find((e) => e.messageId === 'press-1-1')!;
    expect(first.contentType).toBe('application/json');
    expect(first.correlationId).toBe('c-1');
    expect(first.getRawAmqpMessage().properties?.contentEncoding).toBe('gzip');
    expect(typeof first.offset).toBe('string');
    expect(first.enqueuedTimeUtc.getTime()).toBe(T0 + 6000);
  }, 60_000);

  it('resumes exactly from a checkpoint: after an offset, from or after a sequence number, after an enqueued time', async () => {
    const p = [0, 1, 2, 3].find((n) => logged.filter((e) => e.partition === n).length >= 10)!;
    const mine = logged.filter((e) => e.partition === p);
    const cut = mine[6]!;
    const rest = (from: number) => mine.slice(from).map((e) => `${e.sequenceNumber}@${e.offset}`);
    const seen = (events: ReceivedEventData[], n: number) => events.slice(0, n).map((e) => `${e.sequenceNumber}@${e.offset}`);

    const afterOffset = await receive(consumer(), mine.length - 7, { offset: String(cut.offset) }, String(p));
    expect(seen(afterOffset, mine.length - 7)).toEqual(rest(7));
    const atOffset = await receive(consumer(), mine.length - 6, { offset: String(cut.offset), isInclusive: true }, String(p));
    expect(seen(atOffset, mine.length - 6)).toEqual(rest(6));
    const afterSeq = await receive(consumer(), mine.length - 7, { sequenceNumber: cut.sequenceNumber }, String(p));
    expect(seen(afterSeq, mine.length - 7)).toEqual(rest(7));
    const atSeq = await receive(consumer(), mine.length - 6, { sequenceNumber: cut.sequenceNumber, isInclusive: true }, String(p));
    expect(seen(atSeq, mine.length - 6)).toEqual(rest(6));
    const afterTime = await receive(consumer(), mine.length - 7, { enqueuedOn: new Date(cut.enqueuedTime) }, String(p));
    expect(seen(afterTime, mine.length - 7)).toEqual(rest(7));
  }, 60_000);

  it('from latest: only what arrives after, pushed as a device sends it', async () => {
    const device = await connectDevice(hub, 'late-device');
    try {
      const endpoint = hub.eventHubs!;
      const before = endpoint.openStreams();
      // The SDK attaches its receivers asynchronously; send once every partition has a live link.
      const attached = new Promise<void>((resolve) => {
        const on = (): void => {
          if (endpoint.openStreams() < before + 4) return;
          endpoint.off('attached', on);
          resolve();
        };
        endpoint.on('attached', on);
      });
      const arrived = receive(consumer(), 1, latestEventPosition);
      await attached;
      const msg = new deviceSdk.Message(JSON.stringify({ late: true }));
      msg.messageId = 'late-1';
      msg.properties.add('v', '1');
      await device.sendEvent(msg);
      const [e] = await arrived;
      expect(e!.messageId).toBe('late-1');
      expect(e!.body).toEqual(Buffer.from(JSON.stringify({ late: true })));
      const stored = (await logContents(hub.messageLog)).find((x) => x.systemProperties['message-id'] === 'late-1')!;
      expect(e!.offset).toBe(String(stored.offset));
      expect(e!.sequenceNumber).toBe(stored.sequenceNumber);
    } finally {
      await closeQuietly(device);
    }
  }, 60_000);

  it('tracks the last enqueued event when asked (the runtime metric): the partition’s last entry in the log', async () => {
    const p = 1;
    const mine = (await logContents(hub.messageLog)).filter((e) => e.partition === p);
    const last = mine.at(-1)!;
    const seen = await new Promise<{ sequenceNumber?: number; offset?: string; enqueuedOn?: Date; retrievedOn?: Date }>((resolve, reject) => {
      const sub = consumer().subscribe(
        String(p),
        {
          processEvents: async (_events, ctx) => {
            await sub.close();
            resolve({ ...ctx.lastEnqueuedEventProperties });
          },
          processError: async (err) => reject(err),
        },
        { startPosition: earliestEventPosition, trackLastEnqueuedEventProperties: true, maxBatchSize: 5, maxWaitTimeInSeconds: 1 },
      );
    });
    expect(seen.sequenceNumber).toBe(last.sequenceNumber);
    expect(seen.offset).toBe(String(last.offset));
    expect(seen.enqueuedOn?.getTime()).toBe(last.enqueuedTime);
    // By the hub's clock (the emulator runs on a manual one here).
    expect(seen.retrievedOn?.getTime()).toBe(hub.clock.now());
  }, 60_000);

  it('exclusive (epoch) receivers: a higher owner level takes the partition, the old receiver is told', async () => {
    const endpoint = hub.eventHubs!;
    const attachedOnce = () => new Promise<void>((resolve) => endpoint.once('attached', () => resolve()));
    const firstUp = attachedOnce();
    const lost = new Promise<Error>((resolve) => {
      const sub = consumer().subscribe(
        '0',
        { processEvents: async () => undefined, processError: async (err) => { await sub.close(); resolve(err); } },
        { ownerLevel: 1, startPosition: earliestEventPosition, maxWaitTimeInSeconds: 1 },
      );
    });
    await firstUp;
    const secondUp = attachedOnce();
    const taker = consumer().subscribe('0', { processEvents: async () => undefined, processError: async () => undefined }, { ownerLevel: 2, startPosition: latestEventPosition });
    await secondUp;
    expect(await lost).toMatchObject({ code: 'ReceiverDisconnectedError' });
    await taker.close();
  }, 60_000);

  it('refuses a policy without ServiceConnect, a wrong key and an unknown consumer group', async () => {
    const { policies } = await loadPolicies(dir, 0);
    const reader = policies.find((p) => p.keyName === 'registryRead')!;
    const noRight = connectionString.replace(/SharedAccessKeyName=[^;]+;SharedAccessKey=[^;]+/, `SharedAccessKeyName=registryRead;SharedAccessKey=${reader.primaryKey}`);
    expect(await refusal(consumer(noRight).getEventHubProperties())).toEqual({ code: 'UnauthorizedError', reason: 'no-right' });
    const wrongKey = connectionString.replace(/SharedAccessKey=[^;]+/, `SharedAccessKey=${Buffer.alloc(32, 7).toString('base64')}`);
    expect(await refusal(consumer(wrongKey).getPartitionProperties('0'))).toEqual({ code: 'UnauthorizedError', reason: 'bad-signature' });
    const badGroup = await refusal(receive(consumer(connectionString, 'no-such-group'), 1, earliestEventPosition, '0'));
    expect(badGroup, JSON.stringify(badGroup)).toMatchObject({ code: 'MessagingEntityNotFoundError' });
  }, 60_000);
});

/** How a call failed: the SDK's error code, and the emulator's reason when it gave one (retries come as an AggregateError). */
async function refusal(p: Promise<unknown>): Promise<{ code: string; reason?: string }> {
  try {
    await p;
  } catch (err) {
    const last = (err as { errors?: unknown[] }).errors?.at(-1) ?? err;
    const { code, message } = last as { code: string; message: string };
    const reason = /token refused \(([a-z-]+)\)/.exec(message)?.[1];
    return reason === undefined ? { code } : { code, reason };
  }
  throw new Error('expected the call to fail');
}
