import { createServer, type Server } from 'node:http';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { EdgeError, errorMessage } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { DiagnosticsContext } from './context.js';
import { statusReport, type StatusReport } from './handlers/status.js';
import type { TrafficCell, TrafficFigures } from '../core/traffic-meter.js';
import { snapshotMetrics, type Sample } from './prom-snapshot.js';

/**
 * The status figures as Prometheus text exposition, read from the agent at each scrape (no
 * timers, nothing cached). Names follow Prometheus' conventions: what only grows is a counter
 * ending in `_total` (the agent's figures count since start, so a restart is a counter reset,
 * which rate() handles), units are in the name (`_seconds`, `_bytes`), levels are gauges.
 */
export function metricsRegistry(ctx: DiagnosticsContext, registry = new Registry()): Registry {
  let scrape: StatusReport | undefined;
  // prom-client calls every collect() of one scrape in the same turn: one report serves them all.
  const now = (): StatusReport => {
    if (!scrape) {
      scrape = statusReport(ctx);
      queueMicrotask(() => (scrape = undefined));
    }
    return scrape;
  };
  const m = snapshotMetrics(registry, 'edge_agent_');
  m.gauge('info', 'Version and device of this agent (value 1)', ['version', 'device'], () => {
    const s = now();
    return [{ labels: { version: s.version, device: s.deviceId }, value: 1 }];
  });
  m.gauge('uptime_seconds', 'Seconds since the agent started', [], () => one(now().uptimeMs / 1000));
  m.gauge('healthy', '1 while the pipeline passes its health check (what feeds the watchdog)', [], () => {
    const h = now().health;
    return h ? one(h.healthy ? 1 : 0) : [];
  });
  m.counter('readings_accepted_total', 'Readings made durable in the journal since start', [], () => one(now().readings));
  m.counter('readings_rejected_total', 'Readings refused at the journal (EDGE_READING_INVALID) since start', ['driver'], () =>
    Object.entries(now().drivers).map(([driver, d]) => ({ labels: { driver }, value: d.rejected })),
  );

  m.gauge('hub_connected', '1 while connected to the hub', [], () => one(now().connection.state === 'connected' ? 1 : 0));
  m.counter('hub_connects_total', 'Connections to the hub established since start', [], () => totals(now(), 'connects'));
  m.counter('hub_reconnects_total', 'Connections established after the first one (the link was lost or renewed)', [], () => {
    const t = now().connection.totals;
    return t ? one(Math.max(0, t.connects - 1)) : [];
  });
  m.counter('hub_connect_failures_total', 'Connection attempts that failed since start', [], () => totals(now(), 'failures'));
  m.counter('hub_disconnects_total', 'Established connections lost (not planned token renewals) since start', [], () => totals(now(), 'losses'));

  m.counter('messages_acked_total', 'Messages acknowledged by the hub since start', [], () => one(now().forwarder.messagesAcked));
  m.counter('records_acked_total', 'Records acknowledged by the hub since start', [], () => one(now().forwarder.recordsAcked));
  m.counter('sent_bytes_total', 'Message body bytes the hub acknowledged since start', [], () => one(now().forwarder.bytesAcked));
  m.counter('billed_units_total', 'IoT Hub billing units (4 KiB blocks) of the acknowledged messages since start', [], () => one(now().forwarder.unitsBilled));
  m.counter('send_failures_total', 'Sends that failed since start', [], () => one(now().forwarder.sendFailures));
  m.gauge('sends_in_flight', 'Messages sent and not yet acknowledged', [], () => one(now().forwarder.inFlight));

  m.gauge('buffer_unsent_records', 'Records waiting for the hub, per kind', ['kind'], () =>
    Object.entries(now().buffer.unsent).map(([kind, f]) => ({ labels: { kind }, value: f.records })),
  );
  m.gauge('buffer_unsent_bytes', 'Bytes of the records waiting for the hub, per kind', ['kind'], () =>
    Object.entries(now().buffer.unsent).map(([kind, f]) => ({ labels: { kind }, value: f.bytes })),
  );
  m.gauge('buffer_journal_backlog_records', 'Readings journaled but not yet through the pipeline', [], () => one(now().buffer.journalBacklog));
  m.gauge('buffer_oldest_unsent_age_seconds', 'Age of the oldest unsent record (0 when none)', [], () => one((now().buffer.oldestUnsentAgeMs ?? 0) / 1000));
  m.gauge('buffer_bytes', 'Bytes the buffer holds', [], () => one(now().buffer.bytes));
  m.gauge('buffer_quota_bytes', 'Configured buffer quota', [], () => one(now().buffer.quotaBytes));
  m.counter('buffer_evicted_records_total', 'Records dropped from the buffer, per kind and reason (quota: the buffer was full; ttl: too old)', ['kind', 'reason'], () => {
    const b = now().buffer;
    return [...evictions(b.evicted, 'quota'), ...evictions(b.expired, 'ttl')];
  });
  m.counter('store_written_bytes_total', 'Bytes this process wrote to the storage device since start (flash wear)', [], () => {
    const w = now().buffer.written;
    return w ? one(w.deviceBytes) : [];
  });

  m.counter('source_polls_total', 'Polls per driver source since start', ['driver', 'source'], () => eachSource(now(), (h) => h.polls));
  m.counter('source_errors_total', 'Errors per driver source since start', ['driver', 'source'], () => eachSource(now(), (h) => h.errors));
  m.gauge('source_up', '1 while the source answers', ['driver', 'source'], () => eachSource(now(), (h) => (h.state === 'ok' ? 1 : 0)));

  m.gauge('watermark_lag_seconds', 'Per query: arrival clock minus watermark', ['query'], () => {
    const s = now();
    return Object.entries(s.analytics?.watermarks ?? {}).map(([query, wm]) => ({ labels: { query }, value: Math.max(0, s.now - wm) / 1000 }));
  });
  m.counter('query_input_events_total', 'Per query: events pushed to it', ['query'], () => queryCounter(now(), 'inputEvents'));
  m.counter('query_late_events_total', 'Per query: events later than the late-arrival tolerance', ['query'], () => queryCounter(now(), 'lateInput'));
  m.counter('query_dropped_events_total', 'Per query: events that take no part in the result', ['query'], () => queryCounter(now(), 'dropped'));

  m.gauge('alarm_active', 'Alarms in force (store damage, disk full), 1 per code', ['code'], () =>
    [...new Set(now().alarms.map((a) => a.code))].map((code) => ({ labels: { code }, value: 1 })),
  );
  m.counter('hub_billed_units_total', 'Billed 4 KB units the hub acknowledged since start, per path (messages, files) and class', ['path', 'class'], () => trafficSamples(now().forwarder.traffic, (c) => c.units));
  m.counter('hub_sent_bytes_total', 'Bytes (as billed: compressed body) the hub acknowledged since start, per path and class', ['path', 'class'], () => trafficSamples(now().forwarder.traffic, (c) => c.bytes));
  m.counter('hub_sends_total', 'Messages (path messages) or backlog files (path files) the hub acknowledged since start, per path and class', ['path', 'class'], () => trafficSamples(now().forwarder.traffic, (c) => c.sends));
  m.counter('hub_sent_records_total', 'Records in what the hub acknowledged since start, per path and class', ['path', 'class'], () => trafficSamples(now().forwarder.traffic, (c) => c.records));
  // Per source, not per point: a 5,000-point gateway would otherwise expose 5,000 series (per point: `status --json`).
  m.counter('deadband_suppressed_readings_total', 'Readings the deadband kept back (not forwarded; analytics saw them) per driver source since start', ['driver', 'source'], () => deadbandSamples(now().buffer.deadband?.points ?? []));
  return registry;
}

const one = (value: number): Sample[] => [{ labels: {}, value }];

function totals(s: StatusReport, key: 'connects' | 'failures' | 'losses'): Sample[] {
  const t = s.connection.totals;
  return t ? one(t[key]) : [];
}

function evictions(counts: Record<string, number>, reason: string): Sample[] {
  return Object.entries(counts).map(([kind, value]) => ({ labels: { kind, reason }, value }));
}

function eachSource(s: StatusReport, value: (h: { polls: number; errors: number; state: string }) => number): Sample[] {
  const out: Sample[] = [];
  for (const [driver, health] of Object.entries(s.drivers)) for (const [source, h] of Object.entries(health.sources)) out.push({ labels: { driver, source }, value: value(h) });
  return out;
}

function queryCounter(s: StatusReport, key: string): Sample[] {
  return Object.entries(s.analytics?.counters ?? {}).flatMap(([query, c]) => {
    const v = (c as Record<string, unknown> | undefined)?.[key];
    return typeof v === 'number' ? [{ labels: { query }, value: v }] : [];
  });
}

/**
 * Serves `/metrics` on `host:port`, with prom-client's default `process_*` and `nodejs_*`
 * metrics beside the agent's. Loopback unless the config names another address (no
 * authentication here: exposing it is the site's choice). Resolves with the server and its port.
 */
export async function startMetricsServer(ctx: DiagnosticsContext, o: { host: string; port: number; logger: Logger }): Promise<{ server: Server; port: number; close: () => Promise<void> }> {
  const registry = metricsRegistry(ctx);
  collectDefaultMetrics({ register: registry });
  const server = createServer((req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404).end('only /metrics here\n');
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
      (err: unknown) => res.writeHead(500).end(`${errorMessage(err)}\n`),
    );
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(o.port, o.host, () => resolve());
    });
  } catch (cause) {
    throw new EdgeError('EDGE_PORT_IN_USE', `the Prometheus port ${o.host}:${o.port} cannot be opened: ${errorMessage(cause)}`, { cause });
  }
  const port = (server.address() as { port: number }).port;
  o.logger.info({ host: o.host, port }, 'Prometheus metrics on /metrics');
  return {
    server,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** What the hub bills, per path and record class since start, as counters read at each scrape. */
function trafficSamples(traffic: TrafficFigures | undefined, pick: (cell: TrafficCell) => number): Sample[] {
  const out: Sample[] = [];
  for (const [path, byClass] of Object.entries(traffic?.sinceStart ?? {})) {
    for (const [cls, cell] of Object.entries(byClass)) out.push({ labels: { path, class: cls }, value: pick(cell) });
  }
  return out;
}

/** Suppressed readings summed per driver source. */
function deadbandSamples(points: Array<{ driver: string; source: string; suppressed: number }>): Sample[] {
  const by = new Map<string, Sample>();
  for (const p of points) {
    const key = `${p.driver}\u0000${p.source}`;
    const s = by.get(key);
    if (s) s.value += p.suppressed;
    else by.set(key, { labels: { driver: p.driver, source: p.source }, value: p.suppressed });
  }
  return [...by.values()];
}
