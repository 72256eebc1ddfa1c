import { randomUUID } from 'node:crypto';
import pg from 'pg';
import type { CheckpointStore, PartitionOwnership } from '@azure/event-hubs';
import { EdgeError, errorMessage } from '../../../agent/core/errors.js';

/**
 * The Event Hubs `CheckpointStore` on the reconciler's PostgreSQL, so N reconciler instances
 * share a hub's partitions through the SDK's own load balancing. Both halves are in that one
 * database:
 *
 * - **Ownership** (this class) lives in `eventhubs_ownership`, one row per (namespace, hub, consumer group,
 *   partition). A claim is a compare-and-set on the row's etag (a claim without an etag only
 *   creates a row that does not exist yet), so two instances racing for a partition cannot both
 *   win; the etag is fresh on every successful claim, as the SDK requires. `lastModifiedTimeInMs`
 *   is the database's clock: every instance compares it with its own, like the Blob store's
 *   Last-Modified, and the database is the one clock they share.
 * - **Checkpoints** are the reconciler's own `checkpoints` rows, which it commits in the same
 *   transaction as the rows they cover (store.ts). The Event Hubs source joins the two halves
 *   (`storeBackedCheckpoints`): the SDK lists checkpoints from those rows and its
 *   `updateCheckpoint` writes nothing, because a checkpoint written apart from its rows could run
 *   ahead of them (a crash between the two skips data) or behind them (counts it twice).
 */
export type OwnershipStore = Pick<CheckpointStore, 'listOwnership' | 'claimOwnership'> & { close?(): Promise<void> };

const SCHEMA = `
CREATE TABLE IF NOT EXISTS eventhubs_ownership (
  namespace TEXT NOT NULL,
  event_hub TEXT NOT NULL,
  consumer_group TEXT NOT NULL,
  partition_id TEXT NOT NULL,
  owner_id TEXT NOT NULL,
  etag TEXT NOT NULL,
  last_modified BIGINT NOT NULL,
  PRIMARY KEY (namespace, event_hub, consumer_group, partition_id)
)`;

/** Epoch ms by the database's clock. */
const DB_NOW = '(extract(epoch from clock_timestamp()) * 1000)::bigint';

type OwnershipRow = Record<string, unknown>;

export class PostgresOwnership implements OwnershipStore {
  private readonly pool: pg.Pool;
  private migrated: Promise<void> | undefined;

  /** `connectionString`: the reconciler store's database (`postgres://…`). */
  constructor(connectionString: string) {
    this.pool = new pg.Pool({ connectionString, max: 2 });
    // An idle connection dropping must not end the process; the next query reports it.
    this.pool.on('error', () => undefined);
  }

  async listOwnership(fullyQualifiedNamespace: string, eventHubName: string, consumerGroup: string): Promise<PartitionOwnership[]> {
    await this.migrate();
    const { rows } = await this.query(
      `SELECT namespace, event_hub, consumer_group, partition_id, owner_id, etag, last_modified FROM eventhubs_ownership
       WHERE namespace = $1 AND event_hub = $2 AND consumer_group = $3 ORDER BY partition_id`,
      [fullyQualifiedNamespace, eventHubName, consumerGroup],
    );
    return rows.map(toOwnership);
  }

  async claimOwnership(claims: PartitionOwnership[]): Promise<PartitionOwnership[]> {
    await this.migrate();
    const won: PartitionOwnership[] = [];
    for (const c of claims) {
      const key = [c.fullyQualifiedNamespace, c.eventHubName, c.consumerGroup, c.partitionId];
      const etag = randomUUID();
      const { rows } =
        c.etag === undefined || c.etag === ''
          ? await this.query(
              `INSERT INTO eventhubs_ownership (namespace, event_hub, consumer_group, partition_id, owner_id, etag, last_modified)
               VALUES ($1, $2, $3, $4, $5, $6, ${DB_NOW}) ON CONFLICT DO NOTHING
               RETURNING namespace, event_hub, consumer_group, partition_id, owner_id, etag, last_modified`,
              [...key, c.ownerId, etag],
            )
          : await this.query(
              `UPDATE eventhubs_ownership SET owner_id = $5, etag = $6, last_modified = ${DB_NOW}
               WHERE namespace = $1 AND event_hub = $2 AND consumer_group = $3 AND partition_id = $4 AND etag = $7
               RETURNING namespace, event_hub, consumer_group, partition_id, owner_id, etag, last_modified`,
              [...key, c.ownerId, etag, c.etag],
            );
      // A lost race is not an error: the SDK learns it from the claim missing in the answer.
      if (rows.length === 1) won.push(toOwnership(rows[0]!));
    }
    return won;
  }

  async close(): Promise<void> {
    await this.pool.end().catch(() => undefined);
  }

  private migrate(): Promise<void> {
    this.migrated ??= this.createTable().catch((err: unknown) => {
      this.migrated = undefined;
      throw err;
    });
    return this.migrated;
  }

  private async createTable(): Promise<void> {
    const client = await this.pool.connect().catch((err: unknown) => {
      throw new EdgeError('EDGE_TRANSPORT_UNAVAILABLE', `Event Hubs ownership in PostgreSQL: ${errorMessage(err)}`, { cause: err });
    });
    try {
      // Instances starting together must not race on CREATE TABLE IF NOT EXISTS (it is not atomic).
      await client.query('BEGIN');
      await client.query('SELECT pg_advisory_xact_lock(7318250)');
      await client.query(SCHEMA);
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw new EdgeError('EDGE_STORE_CORRUPT', `Event Hubs ownership table: ${errorMessage(err)}`, { cause: err });
    } finally {
      client.release();
    }
  }

  private async query(sql: string, args: unknown[] = []): Promise<pg.QueryResult<OwnershipRow>> {
    try {
      return await this.pool.query<OwnershipRow>(sql, args);
    } catch (err) {
      throw new EdgeError('EDGE_TRANSPORT_UNAVAILABLE', `Event Hubs ownership in PostgreSQL: ${errorMessage(err)}`, { cause: err });
    }
  }
}

function toOwnership(r: OwnershipRow): PartitionOwnership {
  return {
    fullyQualifiedNamespace: String(r.namespace),
    eventHubName: String(r.event_hub),
    consumerGroup: String(r.consumer_group),
    partitionId: String(r.partition_id),
    ownerId: String(r.owner_id),
    etag: String(r.etag),
    lastModifiedTimeInMs: Number(r.last_modified),
  };
}

/**
 * Ownership for `cloud run --event-hubs`: in the reconciler's PostgreSQL when the store is one
 * (so every instance on that database shares the partitions), in memory otherwise (SQLite is the
 * single-instance store).
 */
export function ownershipFor(storeLocation: string): OwnershipStore | undefined {
  return /^postgres(ql)?:\/\//.test(storeLocation) ? new PostgresOwnership(storeLocation) : undefined;
}
