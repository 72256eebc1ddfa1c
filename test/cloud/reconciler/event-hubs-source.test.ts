import { describe, expect, it } from 'vitest';
import { isEdgeError } from '../../../agent/core/errors.js';
import { EventHubsSource } from '../../../cloud/reconciler/sources/event-hubs-source.js';

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
