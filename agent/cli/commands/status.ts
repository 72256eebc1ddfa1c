import type { Command } from 'commander';
import { request } from '../../diagnostics/client.js';
import { withExamples } from '../help.js';
import type { StatusReport } from '../../diagnostics/handlers/status.js';
import type { ProvisioningStatus } from '../../transport/hub-target.js';
import { trafficFields } from '../traffic-format.js';
import { filesPathLine } from './files-path.js';
import { age, bytes, fields, paint, printJson, suppressedLine, table, withDiagOptions, type DiagOptions, type Paint } from '../format.js';

export function registerStatus(program: Command): void {
  withDiagOptions(
    withExamples(program.command('status'), ['status', 'status --json', 'status --follow | jq .readings'])
      .description('one screen: connection, twin, drivers, buffer, analytics, alarms (from the running agent)')
      .option('-f, --follow', 'a JSON line whenever readings are accepted (at most every 100 ms, at least every second), until Ctrl-C'),
  ).action(async (opts: DiagOptions & { follow?: boolean }) => {
    if (opts.follow) {
      await request(opts.socket, 'status', { follow: true }, { onEvent: (e) => process.stdout.write(JSON.stringify(e) + '\n') });
      return;
    }
    const report = (await request(opts.socket, 'status', {}, { timeoutMs: 10_000 })) as StatusReport;
    if (opts.json) printJson(report);
    else process.stdout.write(renderStatus(report, paint()) + '\n');
  });
}

/** Past this, a 1 s poll lands in the next second: readings thin out. */
const LATE_LOOP_MS = 1000;

function eventLoopLine(e: NonNullable<StatusReport['eventLoop']>, p: Paint): string {
  const text = `delay p99 ${e.p99Ms} ms, max ${e.maxMs} ms (${e.overMs >= 60_000 ? 'last minute' : `since start, ${age(e.overMs)}`})`;
  return e.maxMs >= LATE_LOOP_MS ? p.warn(`${text}: polls and sends ran up to ${age(e.maxMs)} late`) : text;
}

export function renderStatus(s: StatusReport, p: Paint): string {
  const conn = s.connection;
  const connState = conn.state === 'connected' ? p.ok(conn.state) : conn.state === 'unauthorized' ? p.bad(conn.state) : p.warn(conn.state);
  const lines: string[] = [];
  lines.push(p.bold(`edge-agent ${s.version}`) + `  device ${s.deviceId}  pid ${s.pid}`);
  const top: Array<[string, string]> = [
    ['uptime', age(s.uptimeMs)],
    ['clock', `${s.clock.now}${s.clock.sane ? '' : '  ' + p.bad('NOT SET (before 2025): check NTP/RTC')}`],
    ['connection', connState + connectionSince(conn, s)],
  ];
  if (conn.lastError) top.push(['  last error', `${conn.lastError.code}: ${conn.lastError.message} (${age(s.now - conn.lastError.at)} ago)`]);
  const prov = (conn as { provisioning?: ProvisioningStatus }).provisioning;
  if (prov) top.push(['provisioning', `DPS ${prov.idScope}/${prov.registrationId} → ${prov.assignedHub ?? 'not yet assigned'}${prov.last ? ` (${prov.last.reason}, ${age(s.now - prov.last.at)} ago)` : ''}${prov.pending ? '  ' + p.warn(`registering: ${prov.pending}`) : ''}`]);
  top.push(['twin', s.twin ? `$version ${s.twin.version} (${s.twin.source})${s.twin.lastRefusal ? '  ' + p.warn('a later version was refused: see edge-agent twin') : ''}` : p.dim('not in use')]);
  if (s.health) top.push(['pipeline', s.health.healthy ? p.ok('healthy') : p.bad(`UNHEALTHY: ${s.health.reason ?? ''}`)]);
  if (s.eventLoop) top.push(['event loop', eventLoopLine(s.eventLoop, p)]);
  top.push(['readings', `${s.readings} accepted since start`]);
  lines.push(fields(top));

  lines.push('', p.bold('drivers'));
  const rows: string[][] = [['driver', 'source', 'state', 'polls', 'errors', 'last good', 'last error']];
  for (const [name, d] of Object.entries(s.drivers)) {
    const sources = Object.entries(d.sources);
    if (sources.length === 0) rows.push([name, '—', d.state, '', '', '', '']);
    for (const [src, h] of sources) {
      const state = h.state === 'ok' ? p.ok(h.state) : h.state === 'down' ? p.bad(h.state) : p.warn(h.state);
      const byCode = Object.entries(h.errorsByCode).map(([c, n]) => `${c}×${n}`).join(' ');
      rows.push([name, src, state, String(h.polls), `${h.errors}${byCode ? ` (${byCode})` : ''}`, h.lastGoodAt ? `${age(s.now - h.lastGoodAt)} ago` : '—', h.lastError ? `${h.lastError.code} ${age(s.now - h.lastError.at)} ago` : '']);
    }
  }
  lines.push(rows.length > 1 ? table(rows, { indent: '  ', right: [3] }) : p.dim('  none configured'));
  lines.push(...skippedLines(s.drivers, p));
  for (const [name, d] of Object.entries(s.drivers)) {
    if (!d.rejected) continue;
    const why = Object.entries(d.rejectedByReason).map(([reason, n]) => `${reason} ×${n}`).join('; ');
    lines.push('  ' + p.warn(`${name}: ${d.rejected} readings refused [EDGE_READING_INVALID]: ${why}`));
  }

  const b = s.buffer;
  lines.push('', p.bold('buffer'));
  const kinds = Object.entries(b.unsent).map(([k, f]) => `${k} ${f.records}`).join(', ') || 'nothing';
  const diskShare = b.quotaBytes > 0 ? b.bytes / b.quotaBytes : 0;
  const disk = `${bytes(b.bytes)} of ${bytes(b.quotaBytes)} quota (${(diskShare * 100).toFixed(1)} %)`;
  lines.push(
    fields(
      [
        ['unsent', `${b.unsentRecords} records (${kinds})${b.journalBacklog ? `, ${b.journalBacklog} in the journal` : ''}`],
        ['oldest unsent', b.oldestUnsentAgeMs !== undefined ? age(b.oldestUnsentAgeMs) : '—'],
        ['disk', diskShare > 0.9 ? p.bad(disk) : diskShare > 0.7 ? p.warn(disk) : disk],
        ['sent', `${s.forwarder.messagesAcked} messages, ${s.forwarder.recordsAcked} records, ${s.forwarder.unitsBilled} billed units, ${s.forwarder.sendFailures} failures`],
        ...trafficFields(s.forwarder.traffic),
        ...(s.paths?.files ? ([['sent as files', filesPathLine(s.paths.files)]] as Array<[string, string]>) : []),
        ...(s.forwarder.lastError ? ([['last send error', `${s.forwarder.lastError.code}: ${s.forwarder.lastError.message}`]] as Array<[string, string]>) : []),
        ['evicted', evictions(b.evicted, b.expired)],
        ['deadband', suppressedLine(b.deadband)],
      ],
      '  ',
    ),
  );

  if (s.analytics) {
    lines.push('', p.bold('analytics'));
    const shown: Array<[string, string]> = [['inputEvents', 'in'], ['lateInput', 'late'], ['outOfOrder', 'out of order'], ['earlyInput', 'early'], ['adjusted', 'adjusted'], ['dropped', 'dropped']];
    const arows: string[][] = [['query', 'watermark lag', ...shown.map(([, label]) => label)]];
    for (const [q, wm] of Object.entries(s.analytics.watermarks)) {
      const c = (s.analytics.counters[q] ?? {}) as Record<string, unknown>;
      arows.push([q, age(Math.max(0, s.now - wm)), ...shown.map(([key]) => (typeof c[key] === 'number' ? (key === 'dropped' && c[key] > 0 ? p.warn(String(c[key])) : String(c[key])) : '—'))]);
    }
    lines.push(arows.length > 1 ? table(arows, { indent: '  ' }) : p.dim('  no watermark yet'));
    lines.push(...referenceLines(s.analytics.counters, s.now, p));
  }

  lines.push('', p.bold('alarms'));
  lines.push(s.alarms.length ? s.alarms.map((a) => '  ' + p.bad(`${a.code}: ${a.message} (${age(s.now - a.since)})`)).join('\n') : '  ' + p.ok('none'));
  return lines.join('\n');
}

/**
 * Lines a sensor heard and left out (NMEA sentences not selected), so a sensor that hears lines
 * but yields no point says why; a warning when nothing good came at all.
 */
export function skippedLines(drivers: StatusReport['drivers'], p: Paint): string[] {
  const out: string[] = [];
  for (const [name, d] of Object.entries(drivers)) {
    for (const [src, h] of Object.entries(d.sources)) {
      if (!h.skipped) continue;
      const counts = Object.entries(h.skipped.lines).sort(([, a], [, b]) => b - a);
      const total = counts.reduce((n, [, c]) => n + c, 0);
      const text = `${name}/${src}: ${total} line${total === 1 ? '' : 's'} skipped (${counts.map(([k, n]) => `${k} ×${n}`).join(', ')}): ${h.skipped.because}`;
      out.push('  ' + (h.lastGoodAt === undefined ? p.warn(`${text}; no point read yet`) : p.dim(text)));
    }
  }
  return out;
}

/** Since when the connection is in its state: connected since the connect, down since the link was lost. */
function connectionSince(conn: StatusReport['connection'], s: StatusReport): string {
  if (conn.state === 'connected') return conn.connectedAt !== undefined ? ` since ${age(s.now - conn.connectedAt)}` : '';
  if (conn.disconnectedAt !== undefined) return ` since ${age(s.now - conn.disconnectedAt)} (${new Date(conn.disconnectedAt).toISOString()})`;
  return conn.connectedAt === undefined ? ` (never connected since the start, ${age(s.uptimeMs)} ago)` : '';
}

function evictions(evicted: Record<string, unknown>, expired: Record<string, unknown>): string {
  const parts = [...Object.entries(evicted).map(([k, v]) => [`quota ${k}`, v] as const), ...Object.entries(expired).map(([k, v]) => [`ttl ${k}`, v] as const)].filter(([, v]) => typeof v === 'number' && v > 0);
  return parts.length ? parts.map(([k, v]) => `${k} ${String(v)}`).join(', ') : 'none';
}

/** The reference tables the queries join (each once): rows in force, and a file that cannot be used. */
function referenceLines(counters: Record<string, unknown>, now: number, p: Paint): string[] {
  const tables = new Map<string, ReferenceLine>();
  for (const c of Object.values(counters)) {
    const ref = (c as { reference?: Record<string, ReferenceLine> }).reference;
    for (const [name, t] of Object.entries(ref ?? {})) tables.set(name, t);
  }
  const out: string[] = [];
  for (const [name, t] of tables) {
    const loaded = t.loadedAt !== undefined ? `, read ${age(Math.max(0, now - t.loadedAt))} ago` : t.from === 'inline' ? '' : ', never read';
    const bad = t.badVersions > 0 ? `; ${t.badVersions} bad version${t.badVersions > 1 ? 's' : ''} since start` : '';
    out.push(`  reference ${name} (${t.from}): ${t.rows} rows${loaded}${bad}`);
    if (t.problem) out.push('  ' + p.bad(`  ${t.problem.code}: ${t.problem.message} (${age(Math.max(0, now - t.problem.since))}); the last good table stays in force`));
  }
  return out;
}

interface ReferenceLine {
  from: string;
  rows: number;
  loadedAt?: number;
  badVersions: number;
  problem?: { code: string; message: string; since: number };
}
