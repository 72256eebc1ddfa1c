import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresOwnership } from '../../../cloud/reconciler/checkpoint-store/postgres-ownership.js';
import { startPostgres, type PostgresServer } from '../../support/postgres.js';

// The ownership half of the Event Hubs checkpoint store, on a real PostgreSQL: what the SDK's
// load balancing relies on is that a claim is a compare-and-set on the etag.

let server: PostgresServer;
const opened: PostgresOwnership[] = [];
const ownership = async () => {
  const o = new PostgresOwnership(await server.createDatabase());
  opened.push(o);
  return o;
};
const claim = (partitionId: string, ownerId: string, etag?: string) => ({
  fullyQualifiedNamespace: 'ns',
  eventHubName: 'hub',
  consumerGroup: '$Default',
  partitionId,
  ownerId,
  ...(etag === undefined ? {} : { etag }),
});

beforeAll(async () => {
  server = await startPostgres();
}, 60_000);
afterAll(async () => {
  await Promise.all(opened.map((o) => o.close()));
  await server?.stop();
});

describe('PostgresOwnership', () => {
  it('a first claim creates the row; a second claim without an etag loses; listing shows the winner', async () => {
    const store = await ownership();
    const [mine] = await store.claimOwnership([claim('0', 'a')]);
    expect(mine).toMatchObject({ partitionId: '0', ownerId: 'a' });
    expect(mine!.etag).toMatch(/^[0-9a-f-]{36}$/);
    expect(Number.isSafeInteger(mine!.lastModifiedTimeInMs)).toBe(true);
    expect(await store.claimOwnership([claim('0', 'b')])).toEqual([]);
    expect(await store.listOwnership('ns', 'hub', '$Default')).toEqual([mine]);
    expect(await store.listOwnership('ns', 'hub', 'other-group')).toEqual([]);
  });

  it('claims with an etag are compare-and-set: of two racing on one etag exactly one wins, with a fresh etag', async () => {
    const store = await ownership();
    const [first] = await store.claimOwnership([claim('1', 'a')]);
    const results = await Promise.all([store.claimOwnership([claim('1', 'b', first!.etag)]), store.claimOwnership([claim('1', 'c', first!.etag)])]);
    const winners = results.flat();
    expect(winners).toHaveLength(1);
    expect(winners[0]!.etag).not.toBe(first!.etag);
    const [listed] = await store.listOwnership('ns', 'hub', '$Default');
    expect(listed).toEqual(winners[0]);
    // A stale etag (the one that lost) cannot take it back.
    expect(await store.claimOwnership([claim('1', 'a', first!.etag)])).toEqual([]);
  });

  it('several partitions in one call: each claim stands or falls alone; two instances starting together share the table', async () => {
    const url = await server.createDatabase();
    const x = new PostgresOwnership(url);
    const y = new PostgresOwnership(url);
    opened.push(x, y);
    // Both create the table on first use, at the same moment.
    const [a, b] = await Promise.all([x.claimOwnership([claim('0', 'x'), claim('1', 'x')]), y.claimOwnership([claim('2', 'y')])]);
    expect(a.map((o) => o.partitionId)).toEqual(['0', '1']);
    expect(b.map((o) => o.partitionId)).toEqual(['2']);
    const mixed = await y.claimOwnership([claim('0', 'y', a[0]!.etag), claim('1', 'y', 'not-the-etag'), claim('3', 'y')]);
    expect(mixed.map((o) => `${o.partitionId}:${o.ownerId}`)).toEqual(['0:y', '3:y']);
    expect((await x.listOwnership('ns', 'hub', '$Default')).map((o) => `${o.partitionId}:${o.ownerId}`)).toEqual(['0:y', '1:x', '2:y', '3:y']);
  });
});
