import pg from 'pg';
import { EdgeError, errorMessage, systemErrorCode } from '../../../agent/core/errors.js';
import { DEVICE_COLUMNS, EVENT_COLUMNS, GAP_COLUMNS, READING_COLUMNS, SCHEMA_VERSION, postgresSchema, resultsQuery } from '../schema.js';
import {
  wsKey,
  type CommitBatch,
  type DeviceState,
  type EventRow,
  type GapRow,
  type ReadingRow,
  type ReconcilerStore,
  type ResultFilter,
  type ResultRow,
  type RowCounts,
  type StoreState,
  type ViewRows,
} from '../store.js';
import { mergeSpec, viewCatalogSql, viewName, viewSql, type ViewSpec } from '../views.js';
import { checkExpected, checkpointMaps, deviceSummary, toDeviceStates, toEventRow, toGapRow, toReadingRow, toResultRow, type SqlRow } from './row-mapping.js';

const INT8_OID = 20;
const asIs = (v: unknown): unknown => v;

/**
 * PostgreSQL store for production: several reconciler instances (one per set of Event Hubs
 * partitions) can share one database. Rows go in as arrays through `unnest`, one statement per
 * table per batch, because a round trip per row would cap throughput at the network latency.
 */
export class PostgresStore implements ReconcilerStore {
  readonly kind = 'postgres';
  private readonly pool: pg.Pool;
  private readonly where: string;

  constructor(connectionString: string) {
    this.pool = new pg.Pool({
      connectionString,
      max: 4,
      // BIGINT columns hold epoch ms and seqs, all well inside Number's safe range.
      types: { getTypeParser: ((oid: number, format?: string) => (oid === INT8_OID ? Number : pg.types.getTypeParser(oid, format as 'text'))) as typeof pg.types.getTypeParser },
    });
    // An idle client's connection dropping must not crash the process; the next query reports it.
    this.pool.on('error', () => undefined);
    this.where = redact(connectionString);
  }

  async migrate(): Promise<void> {
    await this.tx(async (c) => {
      // Two instances starting together must not race on CREATE TABLE IF NOT EXISTS.
      await c.query('SELECT pg_advisory_xact_lock(7318249)');
      await c.query(postgresSchema());
      const { rows } = await c.query('SELECT version FROM schema_version');
      if (rows.length === 0) await c.query('INSERT INTO schema_version (version) VALUES ($1)', [SCHEMA_VERSION]);
      else if (Number(rows[0].version) !== SCHEMA_VERSION) {
        throw new EdgeError('EDGE_STORE_CORRUPT', `store schema version ${rows[0].version}, this reconciler knows ${SCHEMA_VERSION}`);
      }
    });
  }

  async load(source: string): Promise<StoreState> {
    return { ...(await this.loadCheckpoints(source)), devices: await this.devices() };
  }

  async loadCheckpoints(source: string): Promise<Pick<StoreState, 'checkpoints' | 'lastOffsets'>> {
    const { rows } = await this.query('SELECT partition_id, next_seq, last_offset FROM checkpoints WHERE source = $1', [source]);
    return checkpointMaps(rows);
  }

  async commit(batch: CommitBatch): Promise<void> {
    await this.tx(async (c) => {
      for (const cp of batch.checkpoints) {
        if (cp.expectedNext === undefined) continue;
        // FOR UPDATE: a second instance waits here, then sees the first one's new position.
        const { rows } = await c.query('SELECT next_seq FROM checkpoints WHERE source = $1 AND partition_id = $2 FOR UPDATE', [batch.source, cp.partitionId]);
        checkExpected(batch.source, cp.partitionId, cp.expectedNext, rows.length ? Number(rows[0].next_seq) : null);
      }
      if (batch.results.length > 0) {
        const r = batch.results;
        await c.query(
          `INSERT INTO results (device, query, out, key, ws, ws_key, we, rev, seq, row, enqueued_time)
           SELECT d, q, o, k, ws, wsk, we, rev, seq, row::jsonb, et
           FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::bigint[], $7::bigint[],
                       $8::int[], $9::bigint[], $10::text[], $11::bigint[]) AS t(d, q, o, k, ws, wsk, we, rev, seq, row, et)
           ON CONFLICT (device, query, out, key, ws_key, we) DO UPDATE SET
             ws = excluded.ws, rev = excluded.rev, seq = excluded.seq, row = excluded.row, enqueued_time = excluded.enqueued_time
           WHERE excluded.rev > results.rev OR (excluded.rev = results.rev AND excluded.seq > results.seq)`,
          [
            r.map((x) => x.device),
            r.map((x) => x.query),
            r.map((x) => x.out),
            r.map((x) => x.key),
            r.map((x) => x.ws),
            r.map((x) => wsKey(x.ws)),
            r.map((x) => x.we),
            r.map((x) => x.rev),
            r.map((x) => x.seq),
            r.map((x) => JSON.stringify(x.row)),
            r.map((x) => x.enqueuedTime),
          ],
        );
      }
      if (batch.readings.length > 0) {
        const r = batch.readings;
        await c.query(
          `INSERT INTO readings (device, seq, src, pt, t, at, v, q, err, u)
           SELECT d, s, src, pt, t, at, v::jsonb, q, err, u
           FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::bigint[], $6::bigint[], $7::text[],
                       $8::text[], $9::text[], $10::text[]) AS x(d, s, src, pt, t, at, v, q, err, u)
           ON CONFLICT (device, seq) DO NOTHING`,
          [
            r.map((x) => x.device),
            r.map((x) => x.seq),
            r.map((x) => x.src),
            r.map((x) => x.pt),
            r.map((x) => x.t),
            r.map((x) => x.at),
            r.map((x) => JSON.stringify(x.v)),
            r.map((x) => x.q),
            r.map((x) => x.err),
            r.map((x) => x.u),
          ],
        );
      }
      if (batch.events.length > 0) {
        const e = batch.events;
        await c.query(
          `INSERT INTO events (device, seq, kind, t, name, data)
           SELECT d, s, k, t, n, data::jsonb
           FROM unnest($1::text[], $2::bigint[], $3::text[], $4::bigint[], $5::text[], $6::text[]) AS x(d, s, k, t, n, data)
           ON CONFLICT (device, seq) DO NOTHING`,
          [e.map((x) => x.device), e.map((x) => x.seq), e.map((x) => x.kind), e.map((x) => x.t), e.map((x) => x.name), e.map((x) => JSON.stringify(x.data))],
        );
      }
      if (batch.devices.length > 0) await this.writeDevices(c, batch.devices);
      for (const cp of batch.checkpoints) {
        await c.query(
          `INSERT INTO checkpoints (source, partition_id, next_seq, last_offset) VALUES ($1, $2, $3, $4)
           ON CONFLICT (source, partition_id) DO UPDATE SET next_seq = excluded.next_seq,
             last_offset = COALESCE(excluded.last_offset, checkpoints.last_offset)`,
          [batch.source, cp.partitionId, cp.next, cp.lastOffset ?? null],
        );
      }
    });
  }

  private async writeDevices(c: pg.PoolClient, devices: DeviceState[]): Promise<void> {
    const summaries = devices.map(deviceSummary);
    await c.query(
      `INSERT INTO devices (device, boot, boots, max_seq, contiguous_seq, records, duplicates, lost_records, open_gaps,
         first_enqueued, last_enqueued, clock_ahead_ms, clock_skewed)
       SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[], $8::bigint[],
                            $9::int[], $10::bigint[], $11::bigint[], $12::bigint[], $13::boolean[])
       ON CONFLICT (device) DO UPDATE SET boot = excluded.boot, boots = excluded.boots, max_seq = excluded.max_seq,
         contiguous_seq = excluded.contiguous_seq, records = excluded.records, duplicates = excluded.duplicates,
         lost_records = excluded.lost_records, open_gaps = excluded.open_gaps, first_enqueued = excluded.first_enqueued,
         last_enqueued = excluded.last_enqueued, clock_ahead_ms = excluded.clock_ahead_ms, clock_skewed = excluded.clock_skewed`,
      [
        devices.map((d) => d.device),
        devices.map((d) => d.boot),
        devices.map((d) => d.boots),
        devices.map((d) => d.maxSeq),
        summaries.map((s) => s.contiguousSeq),
        devices.map((d) => d.records),
        devices.map((d) => d.duplicates),
        devices.map((d) => d.lostRecords),
        summaries.map((s) => s.openGaps),
        devices.map((d) => d.firstEnqueued),
        devices.map((d) => d.lastEnqueued),
        devices.map((d) => d.clockAheadMs),
        devices.map((d) => d.clockSkewed),
      ],
    );
    await c.query('DELETE FROM gaps WHERE device = ANY($1::text[])', [devices.map((d) => d.device)]);
    const gaps = devices.flatMap((d) => d.gaps.map((g) => ({ device: d.device, ...g })));
    if (gaps.length === 0) return;
    await c.query(
      `INSERT INTO gaps (device, from_seq, to_seq, state, opened_at, requested_at, attempts, closed_at)
       SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::text[], $5::bigint[], $6::bigint[], $7::int[], $8::bigint[])`,
      [
        gaps.map((g) => g.device),
        gaps.map((g) => g.from),
        gaps.map((g) => g.to),
        gaps.map((g) => g.state),
        gaps.map((g) => g.openedAt),
        gaps.map((g) => g.requestedAt),
        gaps.map((g) => g.attempts),
        gaps.map((g) => g.closedAt),
      ],
    );
  }

  async results(filter: ResultFilter = {}): Promise<ResultRow[]> {
    const { sql, args } = resultsQuery(filter, (i) => `$${i}`);
    return (await this.query(sql, args)).rows.map((r) => toResultRow(r, asIs));
  }

  async readings(device?: string): Promise<ReadingRow[]> {
    const { rows } =
      device === undefined
        ? await this.query(`SELECT ${READING_COLUMNS} FROM readings ORDER BY device, seq`)
        : await this.query(`SELECT ${READING_COLUMNS} FROM readings WHERE device = $1 ORDER BY device, seq`, [device]);
    return rows.map((r) => toReadingRow(r, asIs));
  }

  async events(device?: string): Promise<EventRow[]> {
    const { rows } =
      device === undefined
        ? await this.query(`SELECT ${EVENT_COLUMNS} FROM events ORDER BY device, seq`)
        : await this.query(`SELECT ${EVENT_COLUMNS} FROM events WHERE device = $1 ORDER BY device, seq`, [device]);
    return rows.map((r) => toEventRow(r, asIs));
  }

  async gaps(): Promise<GapRow[]> {
    return (await this.query(`SELECT ${GAP_COLUMNS} FROM gaps ORDER BY device, from_seq`)).rows.map(toGapRow);
  }

  async devices(): Promise<DeviceState[]> {
    const devices = await this.query(`SELECT ${DEVICE_COLUMNS} FROM devices ORDER BY device`);
    const gaps = await this.query(`SELECT ${GAP_COLUMNS} FROM gaps ORDER BY device, from_seq`);
    return toDeviceStates(devices.rows, gaps.rows);
  }

  async rowCounts(): Promise<RowCounts> {
    const { rows } = await this.query(
      'SELECT (SELECT COUNT(*) FROM results) AS results, (SELECT COUNT(*) FROM readings) AS readings, (SELECT COUNT(*) FROM events) AS events',
    );
    const r = rows[0]!;
    return { results: Number(r.results), readings: Number(r.readings), events: Number(r.events) };
  }

  async viewSpecs(): Promise<ViewSpec[]> {
    await this.query(viewCatalogSql('postgres'));
    return (await this.query('SELECT spec FROM result_views ORDER BY query, out')).rows.map((r) => r.spec as ViewSpec);
  }

  async writeViews(specs: readonly ViewSpec[], latenessMs: (query: string) => number): Promise<void> {
    await this.tx(async (c) => {
      // Instances sharing the database recreate views too: one at a time.
      await c.query('SELECT pg_advisory_xact_lock(7318251)');
      await c.query(viewCatalogSql('postgres'));
      for (const incoming of specs) {
        const { rows } = await c.query('SELECT spec FROM result_views WHERE query = $1 AND out = $2', [incoming.query, incoming.out]);
        const spec = mergeSpec(rows[0]?.spec as ViewSpec | undefined, incoming);
        await c.query(
          'INSERT INTO result_views (query, out, spec) VALUES ($1, $2, $3::jsonb) ON CONFLICT (query, out) DO UPDATE SET spec = excluded.spec',
          [spec.query, spec.out, JSON.stringify(spec)],
        );
        for (const sql of viewSql(spec, 'postgres', latenessMs(spec.query))) await c.query(sql);
      }
    });
  }

  async viewRows(query: string, out: string, filter: { device?: string; limit?: number } = {}): Promise<ViewRows | undefined> {
    const name = viewName(query, out);
    const exists = await this.query("SELECT 1 FROM pg_views WHERE viewname = $1 AND schemaname = current_schema()", [name]);
    if (exists.rows.length === 0) return undefined;
    const result = await this.query(
      `SELECT * FROM "${name}"${filter.device !== undefined ? ' WHERE device = $1' : ''} ORDER BY device, window_end` +
        (filter.limit !== undefined ? ` LIMIT ${Math.max(0, Math.floor(filter.limit))}` : ''),
      filter.device !== undefined ? [filter.device] : [],
    );
    return { name, columns: result.fields.map((f) => f.name), rows: result.rows };
  }

  async close(): Promise<void> {
    await this.pool.end().catch(() => undefined);
  }

  private async query(sql: string, args: unknown[] = []): Promise<pg.QueryResult<SqlRow>> {
    try {
      return await this.pool.query<SqlRow>(sql, args);
    } catch (err) {
      throw this.wrap(err);
    }
  }

  private async tx(fn: (c: pg.PoolClient) => Promise<void>): Promise<void> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw this.wrap(err);
    }
    try {
      await client.query('BEGIN');
      await fn(client);
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err instanceof EdgeError ? err : this.wrap(err);
    } finally {
      client.release();
    }
  }

  private wrap(err: unknown): EdgeError {
    if (err instanceof EdgeError) return err;
    // System errors (ECONNREFUSED…) and SQLSTATE classes 08 (connection) and 57 (shutdown) mean
    // the server is out of reach; anything else is a statement the database refused.
    const code = systemErrorCode(err) ?? '';
    const unreachable = /^E[A-Z]/.test(code) || code.startsWith('08') || code.startsWith('57') || code === '';
    return new EdgeError(unreachable ? 'EDGE_TRANSPORT_UNAVAILABLE' : 'EDGE_STORE_CORRUPT', `PostgreSQL store ${this.where}: ${errorMessage(err)}`, {
      cause: err,
    });
  }
}

/** The URL without its password, for messages. */
function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'postgres://…';
  }
}
