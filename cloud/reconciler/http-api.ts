import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { EdgeError, errorMessage, isEdgeError, systemErrorCode } from '../../agent/core/errors.js';
import { parseResultFilter } from './filters.js';
import { contiguousSeq, openGapCount } from './gaps.js';
import type { PartitionLag } from './progress.js';
import type { ReconcilerCounters } from './reconciler.js';
import type { ReconcilerStore } from './store.js';

/**
 * The read-only HTTP JSON API that `edge-agent cloud run` serves:
 *   GET /results?device=&query=&from=&to=&limit=   → { results: ResultRow[] } (at most 10,000 unless limit says)
 *   GET /gaps                                       → { gaps: GapRow[] }
 *   GET /devices                                    → { devices: [...] } (with contiguousSeq, openGaps)
 *   GET /metrics                                    → Prometheus text exposition (metrics.ts)
 * Loopback by default: it has no authentication, so exposing it is a deliberate choice.
 */
const DEFAULT_LIMIT = 10_000;

export interface HttpApi {
  readonly port: number;
  readonly url: string;
  close(): Promise<void>;
}

export async function startHttpApi(store: ReconcilerStore, options: { port?: number; host?: string; counters?: () => Promise<ReconcilerCounters>; lag?: () => Promise<PartitionLag[]> } = {}): Promise<HttpApi> {
  const host = options.host ?? '127.0.0.1';
  // prom-client is loaded with the first scrape: an API nobody scrapes does not pay for it.
  let registry: Promise<Registry> | undefined;
  const metrics = () => (registry ??= import('./metrics.js').then((m) => m.reconcilerMetrics(store, options.counters, options.lag)));
  const server: Server = createServer((req, res) => {
    void handle(store, req, res, metrics);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => {
      reject(
        systemErrorCode(err) === 'EADDRINUSE'
          ? new EdgeError('EDGE_PORT_IN_USE', `HTTP API port ${options.port} on ${host} is already in use`, { cause: err })
          : err,
      );
    });
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function handle(store: ReconcilerStore, req: IncomingMessage, res: ServerResponse, metrics: () => Promise<Registry>): Promise<void> {
  try {
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, { error: 'read-only API: use GET' });
    const url = new URL(req.url ?? '/', 'http://localhost');
    const q = Object.fromEntries(url.searchParams);
    switch (url.pathname) {
      case '/results':
        // A default cap keeps one careless GET from serialising a year of results; ?limit= raises it.
        return send(res, 200, { results: await store.results({ limit: DEFAULT_LIMIT, ...parseResultFilter(q) }) });
      case '/gaps':
        return send(res, 200, { gaps: await store.gaps() });
      case '/devices': {
        const devices = (await store.devices()).map((d) => ({
          ...d,
          contiguousSeq: contiguousSeq(d.gaps, d.maxSeq),
          openGaps: openGapCount(d.gaps),
        }));
        return send(res, 200, { devices });
      }
      case '/metrics': {
        const r = await metrics();
        const text = await r.metrics();
        res.writeHead(200, { 'content-type': r.contentType, 'content-length': Buffer.byteLength(text) });
        res.end(text);
        return;
      }
      default:
        return send(res, 404, { error: `no such resource ${url.pathname}; try /results, /gaps, /devices or /metrics` });
    }
  } catch (err) {
    if (isEdgeError(err, 'EDGE_USAGE')) return send(res, 400, { error: err.message });
    return send(res, 500, { error: errorMessage(err), code: isEdgeError(err) ? err.code : undefined });
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
