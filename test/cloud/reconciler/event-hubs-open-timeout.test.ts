import { createServer, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { isEdgeError } from '../../../agent/core/errors.js';
import { EventHubsSource } from '../../../cloud/reconciler/sources/event-hubs-source.js';

describe('EventHubsSource.open and ends against an endpoint that never answers (a frozen hub)', () => {
  const cleanups: Array<() => void> = [];
  afterEach(() => cleanups.splice(0).forEach((c) => c()));

  it('fails with EDGE_TRANSPORT_UNAVAILABLE naming the host and the wait, instead of the SDK retrying in silence', async () => {
    // Takes the TCP connection and says nothing: no AMQP header, no close.
    const held: Socket[] = [];
    const server = createServer((socket) => void held.push(socket));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => {
      held.forEach((s) => s.destroy());
      server.close();
    });
    const { port } = server.address() as { port: number };
    const source = new EventHubsSource({
      connectionString: `Endpoint=sb://127.0.0.1:${port}/;SharedAccessKeyName=service;SharedAccessKey=AAAA;EntityPath=hub;UseDevelopmentEmulator=true`,
      openTimeoutMs: 1500,
    });
    const err = await source.open(async () => new Map()).then(() => undefined, (e: unknown) => e);
    expect(isEdgeError(err, 'EDGE_TRANSPORT_UNAVAILABLE'), String(err)).toBe(true);
    expect((err as Error).message).toBe(`Event Hubs: 127.0.0.1 did not answer within 1.5 s`);
    expect(held.length).toBeGreaterThan(0);
    // `ends` (what a --once run asks first) is bounded the same way.
    const ends = await source.ends().then(() => undefined, (e: unknown) => e);
    expect(isEdgeError(ends, 'EDGE_TRANSPORT_UNAVAILABLE'), String(ends)).toBe(true);
    expect((ends as Error).message).toBe(`Event Hubs: 127.0.0.1 did not answer within 1.5 s`);
    await source.close();
  }, 30_000);
});
