import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Registry } from 'prom-client';
import { EdgeError, errorMessage } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { DiagnosticsContext } from './context.js';
import { statusReport } from './handlers/status.js';

/**
 * The status figures as Prometheus text exposition, read from the agent at each scrape (no
 * timers, nothing cached). Served on loopback only; sites that scrape tunnel or run a local agent.
 */
export function metricsRegistry(ctx: DiagnosticsContext): Registry {
  const registry = new Registry();
  const g = (name: string, help: string, labelNames: string[], collect: (gauge: Gauge) => void) =>
    new Gauge({
      name: `edge_agent_${name}`,
      help,
      labelNames,
      registers: [registry],
      collect() {
        this.reset();
        collect(this);
      },
    });
  const now = () => statusReport(ctx);
  g('info', 'Version and device of this agent (value 1)', ['version', 'device'], (m) => {
    const s = now();
    m.set({ version: s.version, device: s.deviceId }, 1);
  });
  g('uptime_seconds', 'Seconds since the agent started', [], (m) => m.set(now().uptimeMs / 1000));
  g('readings_accepted', 'Readings made durable since start', [], (m) => m.set(now().readings));
  g('connected', '1 while connected to the hub', [], (m) => m.set(now().connection.state === 'connected' ? 1 : 0));
  g('buffer_unsent_records', 'Records waiting for the hub, per kind', ['kind'], (m) => {
    for (const [kind, f] of Object.entries(now().buffer.unsent)) m.set({ kind }, f.records);
  });
  g('buffer_journal_backlog', 'Readings journaled but not yet through the pipeline', [], (m) => m.set(now().buffer.journalBacklog));
  g('buffer_oldest_unsent_age_seconds', 'Age of the oldest unsent record (0 when none)', [], (m) => m.set((now().buffer.oldestUnsentAgeMs ?? 0) / 1000));
  g('buffer_bytes', 'Bytes the buffer holds', [], (m) => m.set(now().buffer.bytes));
  g('buffer_quota_bytes', 'Configured buffer quota', [], (m) => m.set(now().buffer.quotaBytes));
  g('messages_acked', 'Messages acknowledged by the hub since start', [], (m) => m.set(now().forwarder.messagesAcked));
  g('records_acked', 'Records acknowledged by the hub since start', [], (m) => m.set(now().forwarder.recordsAcked));
  g('send_failures', 'Failed sends since start', [], (m) => m.set(now().forwarder.sendFailures));
  g('source_polls', 'Polls per driver source', ['driver', 'source'], (m) => eachSource(now(), (d, s, h) => m.set({ driver: d, source: s }, h.polls)));
  g('source_errors', 'Errors per driver source', ['driver', 'source'], (m) => eachSource(now(), (d, s, h) => m.set({ driver: d, source: s }, h.errors)));
  g('source_up', '1 while the source answers', ['driver', 'source'], (m) => eachSource(now(), (d, s, h) => m.set({ driver: d, source: s }, h.state === 'ok' ? 1 : 0)));
  g('readings_rejected', 'Readings refused at the journal (EDGE_READING_INVALID) per driver since start', ['driver'], (m) => {
    for (const [driver, d] of Object.entries(now().drivers)) m.set({ driver }, d.rejected);
  });
  g('watermark_lag_seconds', 'Per query: arrival clock minus watermark', ['query'], (m) => {
    const s = now();
    for (const [q, wm] of Object.entries(s.analytics?.watermarks ?? {})) m.set({ query: q }, Math.max(0, s.now - wm) / 1000);
  });
  g('alarms', 'Alarms raised (store damage, disk full)', ['code'], (m) => {
    for (const a of now().alarms) m.inc({ code: a.code }, 1);
  });
  // Per source, not per point: a 5,000-point gateway would otherwise expose 5,000 series (per point: `status --json`).
  new Counter({
    name: 'edge_agent_deadband_suppressed_readings_total',
    help: 'Readings the deadband kept back (not forwarded; analytics saw them) per driver source since start',
    labelNames: ['driver', 'source'],
    registers: [registry],
    collect() {
      this.reset();
      for (const p of now().buffer.deadband?.points ?? []) this.inc({ driver: p.driver, source: p.source }, p.suppressed);
    },
  });
  return registry;
}

function eachSource(s: ReturnType<typeof statusReport>, f: (driver: string, source: string, h: { polls: number; errors: number; state: string }) => void): void {
  for (const [d, health] of Object.entries(s.drivers)) for (const [src, h] of Object.entries(health.sources)) f(d, src, h);
}

/** Serves `/metrics` on `host:port` (loopback). Resolves with the server and the port it got. */
export async function startMetricsServer(ctx: DiagnosticsContext, o: { host: string; port: number; logger: Logger }): Promise<{ server: Server; port: number; close: () => Promise<void> }> {
  const registry = metricsRegistry(ctx);
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
  return { server, port, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}
