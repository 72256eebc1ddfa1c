import Database from 'better-sqlite3';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { ManualClock } from '../../agent/core/clock.js';
import { waitAny } from '../../agent/core/signal.js';
import { systemClock } from '../../agent/core/clock.js';
import { IotHubEmulator, MessageLog } from '../../cloud/iothub/index.js';
import { EventHubsSource, MessageLogSource, PostgresStore, Reconciler, SqliteStore, type ReconcilerStore } from '../../cloud/reconciler/index.js';
import { postgresSchema, sqliteSchema } from '../../cloud/reconciler/schema.js';
import { wsKey } from '../../cloud/reconciler/store.js';
// The fleet generator the reconciler's tests use: the same wire-format traffic, with duplicates and revisions.
import { buildScenario, type Scenario } from '../../test/cloud/reconciler/support/scenario.js';
import { startPostgres } from '../../test/support/postgres.js';
import type { BenchRow, BenchSuite } from './harness.js';

/**
 * Records per second reconciled from the emulator's message log into each store, next to a
 * same-run baseline: the same final rows written with plain prepared INSERTs (SQLite) or one
 * unnest INSERT per table (PostgreSQL) in a single transaction, with no log read, decode,
 * dedupe or upsert. The ratio is what reconciliation costs over raw storage.
 */
const DEVICES = 40;
const RECORDS_PER_DEVICE = 5_000;

async function writeLog(scenario: Scenario): Promise<{ dir: string; log: MessageLog }> {
  const dir = await mkdtemp(join(tmpdir(), 'bench-reconciler-log-'));
  const clock = new ManualClock(0);
  const log = await MessageLog.open(dir, { clock, partitionCount: 4 });
  await Promise.all(
    scenario.deliveries.map((d) => {
      clock.set(Math.max(clock.now(), d.enqueuedTime));
      return log.append(d.telemetry);
    }),
  );
  return { dir, log };
}

async function reconcileInto(store: ReconcilerStore, log: MessageLog): Promise<{ records: number; seconds: number }> {
  const reconciler = new Reconciler({ source: new MessageLogSource(log), store, batchSize: 500, clock: new ManualClock(Date.UTC(2026, 10, 20)) });
  await store.migrate();
  const start = performance.now();
  let records = 0;
  for (;;) {
    const s = await reconciler.runOnce();
    records += s.accepted + s.duplicates;
    if (s.events === 0) break;
  }
  return { records, seconds: (performance.now() - start) / 1000 };
}

/**
 * The same log reconciled the way a deployment reads IoT Hub: the emulator serves it over AMQP
 * and the EventHubsSource reads it with the real EventHubConsumerClient (connect, CBS, claims
 * included in the time). A pass can come back empty while the client is still delivering, so it
 * runs until every record of the file-log run has come through.
 */
async function reconcileOverAmqp(store: ReconcilerStore, dataDir: string, expected: number): Promise<{ records: number; seconds: number }> {
  const hub = await IotHubEmulator.start({ dataDir, amqpPort: 0 });
  const source = new EventHubsSource({ connectionString: hub.eventHubsConnectionString()! });
  try {
    const reconciler = new Reconciler({ source, store, batchSize: 500, clock: new ManualClock(Date.UTC(2026, 10, 20)) });
    await store.migrate();
    const start = performance.now();
    let records = 0;
    while (records < expected) {
      const s = await reconciler.runOnce();
      records += s.accepted + s.duplicates;
      if (s.events === 0) await waitAny([source.arrived], { clock: systemClock, ms: 100 });
    }
    return { records, seconds: (performance.now() - start) / 1000 };
  } finally {
    await source.close();
    await hub.stop();
  }
}

function sqliteBaseline(path: string, scenario: Scenario): number {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec(sqliteSchema());
  const insResult = db.prepare(
    'INSERT INTO results (device, query, out, key, ws, ws_key, we, rev, seq, row, enqueued_time) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
  );
  const insReading = db.prepare('INSERT INTO readings (device, seq, src, pt, t, at, v, q, err, u) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)');
  const insEvent = db.prepare('INSERT INTO events (device, seq, kind, t, name, data) VALUES (?, ?, ?, ?, ?, ?)');
  const { results, readings, events } = scenario.truth;
  const start = performance.now();
  db.transaction(() => {
    for (const r of results) insResult.run(r.device, r.query, r.out, r.key, r.ws, wsKey(r.ws), r.we, r.rev, r.seq, JSON.stringify(r.row), 0);
    for (const r of readings) insReading.run(r.device, r.seq, r.src, r.pt, r.t, r.at, JSON.stringify(r.v), r.q, r.err, r.u);
    for (const e of events) insEvent.run(e.device, e.seq, e.kind, e.t, e.name, JSON.stringify(e.data));
  })();
  const seconds = (performance.now() - start) / 1000;
  db.close();
  return (results.length + readings.length + events.length) / seconds;
}

async function postgresBaseline(url: string, scenario: Scenario): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query(postgresSchema());
  const { results: r, readings: d, events: e } = scenario.truth;
  const start = performance.now();
  await client.query('BEGIN');
  await client.query(
    `INSERT INTO results (device, query, out, key, ws, ws_key, we, rev, seq, row, enqueued_time)
     SELECT a, b, c, k, ws, wk, we, rev, seq, row::jsonb, 0 FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::bigint[],
       $7::bigint[], $8::int[], $9::bigint[], $10::text[]) AS t(a, b, c, k, ws, wk, we, rev, seq, row)`,
    [r.map((x) => x.device), r.map((x) => x.query), r.map((x) => x.out), r.map((x) => x.key), r.map((x) => x.ws), r.map((x) => wsKey(x.ws)), r.map((x) => x.we), r.map((x) => x.rev), r.map((x) => x.seq), r.map((x) => JSON.stringify(x.row))],
  );
  await client.query(
    `INSERT INTO readings (device, seq, src, pt, t, at, v, q, err, u)
     SELECT a, s, src, pt, t, at, v::jsonb, q, err, u FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::bigint[], $6::bigint[], $7::text[],
       $8::text[], $9::text[], $10::text[]) AS x(a, s, src, pt, t, at, v, q, err, u)`,
    [d.map((x) => x.device), d.map((x) => x.seq), d.map((x) => x.src), d.map((x) => x.pt), d.map((x) => x.t), d.map((x) => x.at), d.map((x) => JSON.stringify(x.v)), d.map((x) => x.q), d.map((x) => x.err), d.map((x) => x.u)],
  );
  await client.query(
    `INSERT INTO events (device, seq, kind, t, name, data) SELECT a, s, k, t, n, x::jsonb FROM unnest($1::text[], $2::bigint[], $3::text[], $4::bigint[], $5::text[], $6::text[]) AS y(a, s, k, t, n, x)`,
    [e.map((x) => x.device), e.map((x) => x.seq), e.map((x) => x.kind), e.map((x) => x.t), e.map((x) => x.name), e.map((x) => JSON.stringify(x.data))],
  );
  await client.query('COMMIT');
  const seconds = (performance.now() - start) / 1000;
  await client.end();
  return (r.length + d.length + e.length) / seconds;
}

export const suite: BenchSuite = {
  name: 'reconciler',
  async run(log) {
    const scenario = buildScenario({ seed: 1, devices: DEVICES, recordsPerDevice: RECORDS_PER_DEVICE, perMessage: 40, duplicateRate: 0.05, reviseRate: 0.2, reorderRate: 0.05 });
    log(`${scenario.recordCount.toLocaleString('en-US')} records in ${scenario.deliveries.length.toLocaleString('en-US')} messages (with duplicates)`);
    const written = await writeLog(scenario);
    const dir = written.dir;
    let messageLog = written.log;
    const rows: BenchRow[] = [];
    try {
      const sqlitePath = join(dir, 'bench.db');
      const store = new SqliteStore(sqlitePath);
      const s = await reconcileInto(store, messageLog);
      await store.close();
      const base = sqliteBaseline(join(dir, 'baseline.db'), scenario);
      log(`sqlite: ${s.records} records in ${s.seconds.toFixed(2)} s`);
      rows.push({
        name: 'reconcile log → SQLite',
        value: s.records / s.seconds,
        unit: 'records/s',
        baseline: { name: 'prepared INSERTs, 1 tx', value: base },
        note: 'target ≥ 50k records/s; decode + dedupe + upsert, 500 messages per tx',
      });

      // The emulator must own the data dir to serve it: the file log is closed first.
      await messageLog.close();
      const amqpStore = new SqliteStore(join(dir, 'amqp.db'));
      const a = await reconcileOverAmqp(amqpStore, dir, s.records);
      await amqpStore.close();
      messageLog = await MessageLog.open(dir);
      log(`sqlite over AMQP: ${a.records} records in ${a.seconds.toFixed(2)} s`);
      rows.push({
        name: 'reconcile over AMQP (EventHubConsumerClient) → SQLite',
        value: a.records / a.seconds,
        unit: 'records/s',
        baseline: { name: 'reconcile log → SQLite, same run', value: s.records / s.seconds },
        note: "emulator's Event Hub-compatible endpoint on loopback, plain AMQP",
      });

      let server;
      try {
        server = await startPostgres();
      } catch (err) {
        log(`postgres: not measured (${(err as Error).message})`);
      }
      if (server) {
        try {
          const pgStore = new PostgresStore(await server.createDatabase());
          const p = await reconcileInto(pgStore, messageLog);
          await pgStore.close();
          const pgBase = await postgresBaseline(await server.createDatabase(), scenario);
          log(`postgres: ${p.records} records in ${p.seconds.toFixed(2)} s`);
          rows.push({
            name: 'reconcile log → PostgreSQL',
            value: p.records / p.seconds,
            unit: 'records/s',
            baseline: { name: 'unnest INSERTs, 1 tx', value: pgBase },
            note: 'local server, fsync off (throwaway test server)',
          });
        } finally {
          await server.stop();
        }
      }
    } finally {
      await messageLog.close();
      await rm(dir, { recursive: true, force: true });
    }
    return rows;
  },
};
