/**
 * The reconciled tables, in the two SQL dialects the stores speak. Same tables, same columns,
 * same keys; only types differ (SQLite INTEGER/TEXT, PostgreSQL BIGINT/JSONB).
 *
 * results   one row per (device, query, out, key, ws_key, we): the highest (rev, seq) seen.
 *           ws_key = ws, or SNAPSHOT_WS_KEY for snapshot windows (ws NULL), because unique keys
 *           treat NULLs as distinct and the upsert would never match.
 * readings  one row per (device, seq), indexed by application time.
 * events    one row per (device, seq): event and health records.
 * devices   per device: boot, highest seq, highest contiguous seq, counts, clock skew.
 * gaps      per device: missing seq ranges, open (resend pending), lost (evicted, with size) or
 *           rejected (the record arrived malformed; never resent).
 * checkpoints  per (source, partition): the next sequenceNumber to read (and the source's offset
 *           token of the event before it), written in the same transaction as the rows it covers.
 */
export const SCHEMA_VERSION = 1;

export function sqliteSchema(): string {
  return `
CREATE TABLE IF NOT EXISTS results (
  device TEXT NOT NULL, query TEXT NOT NULL, out TEXT NOT NULL, key TEXT NOT NULL,
  ws INTEGER, ws_key INTEGER NOT NULL, we INTEGER NOT NULL,
  rev INTEGER NOT NULL, seq INTEGER NOT NULL, row TEXT NOT NULL, enqueued_time INTEGER NOT NULL,
  PRIMARY KEY (device, query, out, key, ws_key, we)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS results_by_end ON results (we);
CREATE TABLE IF NOT EXISTS readings (
  device TEXT NOT NULL, seq INTEGER NOT NULL, src TEXT NOT NULL, pt TEXT NOT NULL,
  t INTEGER NOT NULL, at INTEGER NOT NULL, v TEXT NOT NULL, q TEXT NOT NULL, err TEXT, u TEXT,
  PRIMARY KEY (device, seq)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS readings_by_time ON readings (device, src, pt, t);
CREATE TABLE IF NOT EXISTS events (
  device TEXT NOT NULL, seq INTEGER NOT NULL, kind TEXT NOT NULL, t INTEGER NOT NULL,
  name TEXT NOT NULL, data TEXT NOT NULL,
  PRIMARY KEY (device, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS devices (
  device TEXT PRIMARY KEY, boot TEXT NOT NULL, boots INTEGER NOT NULL,
  max_seq INTEGER NOT NULL, contiguous_seq INTEGER NOT NULL,
  records INTEGER NOT NULL, duplicates INTEGER NOT NULL, lost_records INTEGER NOT NULL,
  open_gaps INTEGER NOT NULL,
  first_enqueued INTEGER NOT NULL, last_enqueued INTEGER NOT NULL,
  clock_ahead_ms INTEGER NOT NULL, clock_skewed INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS gaps (
  device TEXT NOT NULL, from_seq INTEGER NOT NULL, to_seq INTEGER NOT NULL, state TEXT NOT NULL,
  opened_at INTEGER NOT NULL, requested_at INTEGER, attempts INTEGER NOT NULL, closed_at INTEGER,
  PRIMARY KEY (device, from_seq)
);
CREATE TABLE IF NOT EXISTS checkpoints (
  source TEXT NOT NULL, partition_id TEXT NOT NULL, next_seq INTEGER NOT NULL, last_offset TEXT,
  PRIMARY KEY (source, partition_id)
);
CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);
`;
}

export function postgresSchema(): string {
  return `
CREATE TABLE IF NOT EXISTS results (
  device TEXT NOT NULL, query TEXT NOT NULL, out TEXT NOT NULL, key TEXT NOT NULL,
  ws BIGINT, ws_key BIGINT NOT NULL, we BIGINT NOT NULL,
  rev INTEGER NOT NULL, seq BIGINT NOT NULL, row JSONB NOT NULL, enqueued_time BIGINT NOT NULL,
  PRIMARY KEY (device, query, out, key, ws_key, we)
);
CREATE INDEX IF NOT EXISTS results_by_end ON results (we);
CREATE TABLE IF NOT EXISTS readings (
  device TEXT NOT NULL, seq BIGINT NOT NULL, src TEXT NOT NULL, pt TEXT NOT NULL,
  t BIGINT NOT NULL, at BIGINT NOT NULL, v JSONB NOT NULL, q TEXT NOT NULL, err TEXT, u TEXT,
  PRIMARY KEY (device, seq)
);
CREATE INDEX IF NOT EXISTS readings_by_time ON readings (device, src, pt, t);
CREATE TABLE IF NOT EXISTS events (
  device TEXT NOT NULL, seq BIGINT NOT NULL, kind TEXT NOT NULL, t BIGINT NOT NULL,
  name TEXT NOT NULL, data JSONB NOT NULL,
  PRIMARY KEY (device, seq)
);
CREATE TABLE IF NOT EXISTS devices (
  device TEXT PRIMARY KEY, boot TEXT NOT NULL, boots INTEGER NOT NULL,
  max_seq BIGINT NOT NULL, contiguous_seq BIGINT NOT NULL,
  records BIGINT NOT NULL, duplicates BIGINT NOT NULL, lost_records BIGINT NOT NULL,
  open_gaps INTEGER NOT NULL,
  first_enqueued BIGINT NOT NULL, last_enqueued BIGINT NOT NULL,
  clock_ahead_ms BIGINT NOT NULL, clock_skewed BOOLEAN NOT NULL
);
CREATE TABLE IF NOT EXISTS gaps (
  device TEXT NOT NULL, from_seq BIGINT NOT NULL, to_seq BIGINT NOT NULL, state TEXT NOT NULL,
  opened_at BIGINT NOT NULL, requested_at BIGINT, attempts INTEGER NOT NULL, closed_at BIGINT,
  PRIMARY KEY (device, from_seq)
);
CREATE TABLE IF NOT EXISTS checkpoints (
  source TEXT NOT NULL, partition_id TEXT NOT NULL, next_seq BIGINT NOT NULL, last_offset TEXT,
  PRIMARY KEY (source, partition_id)
);
CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);
`;
}

/** Column lists shared by both stores' SELECTs, so their rows map the same way. */
const RESULT_COLUMNS = 'device, query, out, key, ws, we, rev, seq, row, enqueued_time';
export const READING_COLUMNS = 'device, seq, src, pt, t, at, v, q, err, u';
export const EVENT_COLUMNS = 'device, seq, kind, t, name, data';
export const DEVICE_COLUMNS =
  'device, boot, boots, max_seq, records, duplicates, lost_records, first_enqueued, last_enqueued, clock_ahead_ms, clock_skewed';
export const GAP_COLUMNS = 'device, from_seq, to_seq, state, opened_at, requested_at, attempts, closed_at';

/**
 * The results query for a filter, with placeholders from `ph` (SQLite `?`, PostgreSQL `$n`),
 * so both stores filter and sort identically.
 */
export function resultsQuery(
  filter: { device?: string; query?: string; from?: number; to?: number; limit?: number },
  ph: (index: number) => string,
): { sql: string; args: Array<string | number> } {
  const where: string[] = [];
  const args: Array<string | number> = [];
  const add = (clause: string, value: string | number) => {
    args.push(value);
    where.push(`${clause} ${ph(args.length)}`);
  };
  if (filter.device !== undefined) add('device =', filter.device);
  if (filter.query !== undefined) add('query =', filter.query);
  if (filter.from !== undefined) add('we >=', filter.from);
  if (filter.to !== undefined) add('we <=', filter.to);
  const sql =
    `SELECT ${RESULT_COLUMNS} FROM results` +
    (where.length ? ` WHERE ${where.join(' AND ')}` : '') +
    ' ORDER BY device, query, out, key, we' +
    (filter.limit !== undefined ? ` LIMIT ${Math.max(0, Math.floor(filter.limit))}` : '');
  return { sql, args };
}
