import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { EdgeError, errorMessage, systemErrorCode } from '../../../agent/core/errors.js';
import { DEVICE_COLUMNS, EVENT_COLUMNS, GAP_COLUMNS, READING_COLUMNS, SCHEMA_VERSION, resultsQuery, sqliteSchema } from '../schema.js';
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
import { aliasColumns, mergeSpec, viewCatalogSql, viewName, viewSql, type ViewSpec } from '../views.js';
import { checkExpected, checkpointMaps, deviceSummary, toDeviceStates, toEventRow, toGapRow, toReadingRow, toResultRow, type SqlRow } from './row-mapping.js';

const parse = (v: unknown): unknown => JSON.parse(String(v));

/**
 * The default store: one SQLite file. WAL with synchronous=NORMAL: a process crash loses
 * nothing committed, a power cut may lose the last transactions, but since checkpoints live in
 * the same transactions as their rows, what survives is always consistent and simply replays.
 */
export class SqliteStore implements ReconcilerStore {
  readonly kind = 'sqlite';
  private readonly db: Database.Database;
  private statements: ReturnType<SqliteStore['prepare']> | undefined;

  constructor(path: string) {
    try {
      if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
      this.db = new Database(path);
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = NORMAL');
      this.db.pragma('busy_timeout = 5000');
    } catch (cause) {
      const code = systemErrorCode(cause);
      throw new EdgeError(
        code === 'SQLITE_BUSY' ? 'EDGE_STORE_LOCKED' : 'EDGE_DATA_DIR_UNUSABLE',
        `cannot open SQLite store ${path}: ${errorMessage(cause)}`,
        { cause },
      );
    }
  }

  async migrate(): Promise<void> {
    this.db.exec(sqliteSchema());
    const row = this.db.prepare('SELECT version FROM schema_version').get() as { version: number } | undefined;
    if (!row) this.db.prepare('INSERT INTO schema_version (version) VALUES (?)').run(SCHEMA_VERSION);
    else if (row.version !== SCHEMA_VERSION) {
      throw new EdgeError('EDGE_STORE_CORRUPT', `store schema version ${row.version}, this reconciler knows ${SCHEMA_VERSION}`);
    }
    this.statements = this.prepare();
  }

  private prepare() {
    return {
      upsertResult: this.db.prepare(
        `INSERT INTO results (device, query, out, key, ws, ws_key, we, rev, seq, row, enqueued_time)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (device, query, out, key, ws_key, we) DO UPDATE SET
           ws = excluded.ws, rev = excluded.rev, seq = excluded.seq, row = excluded.row, enqueued_time = excluded.enqueued_time
         WHERE excluded.rev > results.rev OR (excluded.rev = results.rev AND excluded.seq > results.seq)`,
      ),
      insertReading: this.db.prepare(
        `INSERT INTO readings (device, seq, src, pt, t, at, v, q, err, u) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (device, seq) DO NOTHING`,
      ),
      insertEvent: this.db.prepare(
        `INSERT INTO events (device, seq, kind, t, name, data) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (device, seq) DO NOTHING`,
      ),
      upsertDevice: this.db.prepare(
        `INSERT INTO devices (device, boot, boots, max_seq, contiguous_seq, records, duplicates, lost_records, open_gaps,
           first_enqueued, last_enqueued, clock_ahead_ms, clock_skewed)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (device) DO UPDATE SET boot = excluded.boot, boots = excluded.boots, max_seq = excluded.max_seq,
           contiguous_seq = excluded.contiguous_seq, records = excluded.records, duplicates = excluded.duplicates,
           lost_records = excluded.lost_records, open_gaps = excluded.open_gaps, first_enqueued = excluded.first_enqueued,
           last_enqueued = excluded.last_enqueued, clock_ahead_ms = excluded.clock_ahead_ms, clock_skewed = excluded.clock_skewed`,
      ),
      deleteGaps: this.db.prepare('DELETE FROM gaps WHERE device = ?'),
      insertGap: this.db.prepare(
        `INSERT INTO gaps (device, from_seq, to_seq, state, opened_at, requested_at, attempts, closed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      getCheckpoint: this.db.prepare('SELECT next_seq FROM checkpoints WHERE source = ? AND partition_id = ?'),
      upsertCheckpoint: this.db.prepare(
        `INSERT INTO checkpoints (source, partition_id, next_seq, last_offset) VALUES (?, ?, ?, ?)
         ON CONFLICT (source, partition_id) DO UPDATE SET next_seq = excluded.next_seq,
           last_offset = COALESCE(excluded.last_offset, checkpoints.last_offset)`,
      ),
    };
  }

  private get stmts(): ReturnType<SqliteStore['prepare']> {
    if (!this.statements) throw new TypeError('SqliteStore: call migrate() before use');
    return this.statements;
  }

  async load(source: string): Promise<StoreState> {
    return { ...(await this.loadCheckpoints(source)), devices: await this.devices() };
  }

  async loadCheckpoints(source: string): Promise<Pick<StoreState, 'checkpoints' | 'lastOffsets'>> {
    const rows = this.db.prepare('SELECT partition_id, next_seq, last_offset FROM checkpoints WHERE source = ?').all(source) as SqlRow[];
    return checkpointMaps(rows);
  }

  async commit(batch: CommitBatch): Promise<void> {
    const s = this.stmts;
    this.db.transaction(() => {
      for (const c of batch.checkpoints) {
        if (c.expectedNext === undefined) continue;
        const row = s.getCheckpoint.get(batch.source, c.partitionId) as { next_seq: number } | undefined;
        checkExpected(batch.source, c.partitionId, c.expectedNext, row ? Number(row.next_seq) : null);
      }
      for (const r of batch.results) {
        s.upsertResult.run(r.device, r.query, r.out, r.key, r.ws, wsKey(r.ws), r.we, r.rev, r.seq, JSON.stringify(r.row), r.enqueuedTime);
      }
      for (const r of batch.readings) {
        s.insertReading.run(r.device, r.seq, r.src, r.pt, r.t, r.at, JSON.stringify(r.v), r.q, r.err, r.u);
      }
      for (const e of batch.events) s.insertEvent.run(e.device, e.seq, e.kind, e.t, e.name, JSON.stringify(e.data));
      for (const d of batch.devices) this.writeDevice(d);
      for (const c of batch.checkpoints) s.upsertCheckpoint.run(batch.source, c.partitionId, c.next, c.lastOffset ?? null);
    })();
  }

  private writeDevice(d: DeviceState): void {
    const s = this.stmts;
    const { contiguousSeq, openGaps } = deviceSummary(d);
    s.upsertDevice.run(
      d.device,
      d.boot,
      d.boots,
      d.maxSeq,
      contiguousSeq,
      d.records,
      d.duplicates,
      d.lostRecords,
      openGaps,
      d.firstEnqueued,
      d.lastEnqueued,
      d.clockAheadMs,
      d.clockSkewed ? 1 : 0,
    );
    s.deleteGaps.run(d.device);
    for (const g of d.gaps) s.insertGap.run(d.device, g.from, g.to, g.state, g.openedAt, g.requestedAt, g.attempts, g.closedAt);
  }

  async results(filter: ResultFilter = {}): Promise<ResultRow[]> {
    const { sql, args } = resultsQuery(filter, () => '?');
    return (this.db.prepare(sql).all(...args) as SqlRow[]).map((r) => toResultRow(r, parse));
  }

  async readings(device?: string): Promise<ReadingRow[]> {
    const rows = (
      device === undefined
        ? this.db.prepare(`SELECT ${READING_COLUMNS} FROM readings ORDER BY device, seq`).all()
        : this.db.prepare(`SELECT ${READING_COLUMNS} FROM readings WHERE device = ? ORDER BY device, seq`).all(device)
    ) as SqlRow[];
    return rows.map((r) => toReadingRow(r, parse));
  }

  async events(device?: string): Promise<EventRow[]> {
    const rows = (
      device === undefined
        ? this.db.prepare(`SELECT ${EVENT_COLUMNS} FROM events ORDER BY device, seq`).all()
        : this.db.prepare(`SELECT ${EVENT_COLUMNS} FROM events WHERE device = ? ORDER BY device, seq`).all(device)
    ) as SqlRow[];
    return rows.map((r) => toEventRow(r, parse));
  }

  async gaps(): Promise<GapRow[]> {
    return (this.db.prepare(`SELECT ${GAP_COLUMNS} FROM gaps ORDER BY device, from_seq`).all() as SqlRow[]).map(toGapRow);
  }

  async devices(): Promise<DeviceState[]> {
    const devices = this.db.prepare(`SELECT ${DEVICE_COLUMNS} FROM devices ORDER BY device`).all() as SqlRow[];
    const gaps = this.db.prepare(`SELECT ${GAP_COLUMNS} FROM gaps ORDER BY device, from_seq`).all() as SqlRow[];
    return toDeviceStates(devices, gaps);
  }

  async rowCounts(): Promise<RowCounts> {
    const count = (table: string) => Number((this.db.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n);
    return { results: count('results'), readings: count('readings'), events: count('events') };
  }

  async viewSpecs(): Promise<ViewSpec[]> {
    this.db.exec(viewCatalogSql('sqlite'));
    return (this.db.prepare('SELECT spec FROM result_views ORDER BY query, out').all() as Array<{ spec: string }>).map((r) => JSON.parse(r.spec) as ViewSpec);
  }

  async writeViews(specs: readonly ViewSpec[], latenessMs: (query: string) => number): Promise<void> {
    this.db.exec(viewCatalogSql('sqlite'));
    const save = this.db.prepare('INSERT INTO result_views (query, out, spec) VALUES (?, ?, ?) ON CONFLICT (query, out) DO UPDATE SET spec = excluded.spec');
    const stored = this.db.prepare('SELECT spec FROM result_views WHERE query = ? AND out = ?');
    this.db.transaction(() => {
      for (const incoming of specs) {
        const row = stored.get(incoming.query, incoming.out) as { spec: string } | undefined;
        const spec = mergeSpec(row ? (JSON.parse(row.spec) as ViewSpec) : undefined, incoming);
        save.run(spec.query, spec.out, JSON.stringify(spec));
        for (const sql of viewSql(spec, 'sqlite', latenessMs(spec.query))) this.db.exec(sql);
      }
    })();
  }

  async viewRows(query: string, out: string, filter: { device?: string; limit?: number } = {}): Promise<ViewRows | undefined> {
    const name = viewName(query, out);
    const exists = this.db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'view' AND name = ?").get(name);
    if (!exists) return undefined;
    const stmt = this.db.prepare(
      `SELECT * FROM "${name}"${filter.device !== undefined ? ' WHERE device = ?' : ''} ORDER BY device, window_end` +
        (filter.limit !== undefined ? ` LIMIT ${Math.max(0, Math.floor(filter.limit))}` : ''),
    );
    const rows = (filter.device !== undefined ? stmt.all(filter.device) : stmt.all()) as Array<Record<string, unknown>>;
    const columns = stmt.columns().map((c) => c.name);
    // SQLite has no boolean: the view's 0/1 `complete` and boolean aliases read back as what they mean (as PostgreSQL's do).
    const spec = this.db.prepare('SELECT spec FROM result_views WHERE query = ? AND out = ?').get(query, out) as { spec: string } | undefined;
    const booleans = spec ? aliasColumns(JSON.parse(spec.spec) as ViewSpec).filter((c) => c.type === 'boolean').map((c) => c.name) : [];
    for (const r of rows) {
      r.complete = r.complete === 1;
      for (const b of booleans) if (r[b] === 0 || r[b] === 1) r[b] = r[b] === 1;
    }
    return { name, columns, rows };
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}
