import { describe, expect, it } from 'vitest';
import { isEdgeError } from '../../../agent/core/errors.js';
import type { ReceivedEventData } from '@azure/event-hubs';
import { EventHubsSource, inMemoryOwnership, storeBackedCheckpoints, toSourceEvent } from '../../../cloud/reconciler/sources/event-hubs-source.js';

// What can be checked without an Event Hubs namespace: option validation and the checkpoint
// namespace. Reading is covered by the source conformance suite when EDGE_RECONCILER_EVENTHUBS is set.
describe('EventHubsSource without a namespace', () => {
  const cs = 'Endpoint=sb://example.servicebus.windows.net/;SharedAccessKeyName=service;SharedAccessKey=AAAA;EntityPath=iothub-ehub-x';

  it('names its checkpoints by namespace, hub and consumer group', () => {
    expect(new EventHubsSource({ connectionString: cs }).id).toBe('event-hubs:example.servicebus.windows.net/iothub-ehub-x/$Default');
    expect(new EventHubsSource({ connectionString: cs, consumerGroup: 'reconciler' }).id).toBe(
      'event-hubs:example.servicebus.windows.net/iothub-ehub-x/reconciler',
    );
  });

  it('refuses a connection string it cannot use, as a usage error', () => {
    for (const bad of ['not a connection string', cs.replace(';EntityPath=iothub-ehub-x', '')]) {
      let caught: unknown;
      try {
        new EventHubsSource({ connectionString: bad });
      } catch (err) {
        caught = err;
      }
      expect(isEdgeError(caught, 'EDGE_USAGE'), String(caught)).toBe(true);
    }
  });
});

describe('Event Hubs checkpoint adapter and event mapping', () => {
  it('gives the client the positions committed in the store, resuming after the last offset; never writes', async () => {
    let reads = 0;
    const store = storeBackedCheckpoints(async () => {
      reads++;
      return new Map([
        ['0', { next: 41, lastOffset: '8192' }],
        ['1', { next: 0, lastOffset: null }],
      ]);
    }, inMemoryOwnership());
    expect(await store.listCheckpoints('ns', 'hub', 'g')).toEqual([
      { fullyQualifiedNamespace: 'ns', eventHubName: 'hub', consumerGroup: 'g', partitionId: '0', sequenceNumber: 40, offset: '8192' },
    ]);
    await store.updateCheckpoint({ fullyQualifiedNamespace: 'ns', eventHubName: 'hub', consumerGroup: 'g', partitionId: '0', sequenceNumber: 99, offset: '1' });
    // Read fresh on every call: an instance taking over a partition sees the latest commit.
    await store.listCheckpoints('ns', 'hub', 'g');
    expect(reads).toBe(2);
  });

  it('single-instance ownership: claims succeed with fresh etags and are listed', async () => {
    const own = inMemoryOwnership();
    const claim = { fullyQualifiedNamespace: 'ns', eventHubName: 'hub', consumerGroup: 'g', partitionId: '3', ownerId: 'me' };
    const [first] = await own.claimOwnership([claim]);
    const [second] = await own.claimOwnership([claim]);
    expect(first!.etag).not.toBe(second!.etag);
    expect(await own.listOwnership('ns', 'hub', 'g')).toMatchObject([{ partitionId: '3', ownerId: 'me' }]);
  });

  it('maps a received IoT Hub event: device from system properties, content encoding, raw body', () => {
    const body = Buffer.from('{"v":1}');
    const received = {
      body,
      sequenceNumber: 7,
      offset: '1024',
      enqueuedTimeUtc: new Date(5_000),
      partitionKey: null,
      properties: { v: '1', seqFrom: 3 },
      systemProperties: { 'iothub-connection-device-id': 'dev-9', 'iothub-enqueuedtime': new Date(5_000) },
      getRawAmqpMessage: () => ({ bodyType: 'data', body, properties: { contentEncoding: 'gzip' } }),
    } as unknown as ReceivedEventData;
    expect(toSourceEvent(received, '2')).toEqual({
      partitionId: '2',
      sequenceNumber: 7,
      offset: '1024',
      enqueuedTime: 5_000,
      deviceId: 'dev-9',
      systemProperties: { 'iothub-connection-device-id': 'dev-9', 'iothub-enqueuedtime': new Date(5_000).toISOString(), 'content-encoding': 'gzip' },
      properties: { v: '1', seqFrom: '3' },
      body,
    });
  });
});
