import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { EdgeError, errorMessage, isEdgeError } from '../../agent/core/errors.js';
import type { ServiceFace } from './service-face.js';
import { listen } from './listen.js';
import type { HubEvent } from './hub-event.js';
import { TwinPatchError } from './twin-store.js';
import type { RefuseMode } from './faults.js';

/**
 * The emulator's service face over loopback HTTP/JSON, so another process (the CLI, the
 * reconciler, a test harness) can do what the TypeScript API does. Not IoT Hub's REST API: a
 * small, honest one. Errors are `{"error":{"code","message"}}` with a fitting status.
 *
 *   GET    /health                               {hostName, port}
 *   GET    /ca                                   the CA PEM (text)
 *   GET    /devices                              DeviceInfo[]
 *   POST   /devices            {deviceId}        RegisteredDevice (with connectionString)
 *   GET    /devices/:id                          RegisteredDevice
 *   DELETE /devices/:id
 *   GET    /devices/:id/twin                     {desired, reported}
 *   PATCH  /devices/:id/twin/desired   patch     {version, pushed}
 *   POST   /devices/:id/methods/:name  {payload, responseTimeoutMs}   {status, payload}
 *   POST   /devices/:id/messages  {body, bodyEncoding?, messageId?, correlationId?, contentType?, contentEncoding?, properties?}
 *   GET    /messages                             {partitionCount, ends: number[]}
 *   GET    /messages/:partition?from=N&limit=N   WireHubEvent[] (body base64)
 *   GET    /faults                               FaultStatus
 *   DELETE /faults                               clears every fault
 *   POST   /faults/drop/:id | /faults/silence/:id | /faults/hold-acks/:id
 *   POST   /faults/release-acks/:id  {deliver?}  {released}
 *   POST   /faults/refuse  {durationMs?, mode?}  | DELETE /faults/refuse
 */
export interface HttpService {
  port: number;
  close(): Promise<void>;
}

/** A HubEvent as JSON: the body travels base64. */
export type WireHubEvent = Omit<HubEvent, 'body'> & { body: string };

function hubEventToWire(e: HubEvent): WireHubEvent {
  return { ...e, body: e.body.toString('base64') };
}

export function hubEventFromWire(e: WireHubEvent): HubEvent {
  return { ...e, body: Buffer.from(e.body, 'base64') };
}

const MAX_REQUEST_BYTES = 1024 * 1024;

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

function statusFor(err: unknown): { status: number; code: string } {
  if (err instanceof HttpError) return { status: err.status, code: err.code };
  if (err instanceof TwinPatchError) return { status: 400, code: 'TWIN_PATCH_INVALID' };
  if (err instanceof TypeError || err instanceof SyntaxError) return { status: 400, code: 'EDGE_USAGE' };
  if (isEdgeError(err)) {
    const byCode: Partial<Record<string, number>> = {
      EDGE_USAGE: 400,
      EDGE_HUB_DEVICE_UNKNOWN: 404,
      EDGE_HUB_DEVICE_OFFLINE: 404,
      EDGE_HUB_METHOD_TIMEOUT: 504,
      EDGE_BUFFER_FULL: 429,
    };
    return { status: byCode[err.code] ?? 500, code: err.code };
  }
  return { status: 500, code: 'INTERNAL' };
}

async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_REQUEST_BYTES) throw new HttpError(413, 'EDGE_MESSAGE_TOO_LARGE', 'request body too large');
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new HttpError(400, 'EDGE_USAGE', 'request body is not valid JSON');
  }
}

function obj(v: unknown): Record<string, unknown> {
  if (v === undefined) return {};
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new HttpError(400, 'EDGE_USAGE', 'request body must be a JSON object');
  return v as Record<string, unknown>;
}

function intParam(v: string | null, name: string, fallback: number): number {
  if (v === null) return fallback;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 0) throw new HttpError(400, 'EDGE_USAGE', `${name} must be a non-negative integer`);
  return n;
}

function optionalString(v: unknown, name: string): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw new HttpError(400, 'EDGE_USAGE', `${name} must be a string`);
  return v;
}

type Handler = (m: string[], url: URL, req: IncomingMessage) => Promise<unknown>;

export async function startHttpService(hub: ServiceFace, port: number, host: string): Promise<HttpService> {
  const routes: Array<{ method: string; path: RegExp; handle: Handler }> = [];
  const route = (method: string, path: RegExp, handle: Handler): void => {
    routes.push({ method, path, handle });
  };
  const id = '([^/]+)';

  route('GET', /^\/health$/, async () => ({ ok: true, hostName: hub.hostName, port: hub.port }));
  route('GET', /^\/devices$/, async () => hub.listDevices());
  route('POST', /^\/devices$/, async (_m, _u, req) => {
    const deviceId = optionalString(obj(await readBody(req)).deviceId, 'deviceId');
    if (!deviceId) throw new HttpError(400, 'EDGE_USAGE', 'deviceId is required');
    return hub.registerDevice(deviceId);
  });
  route('GET', new RegExp(`^/devices/${id}$`), async ([d]) => {
    const dev = hub.getDevice(d!);
    if (!dev) throw new EdgeError('EDGE_HUB_DEVICE_UNKNOWN', `device ${d} is not registered`);
    return dev;
  });
  route('DELETE', new RegExp(`^/devices/${id}$`), async ([d]) => ({ removed: await hub.removeDevice(d!) }));
  route('GET', new RegExp(`^/devices/${id}/twin$`), async ([d]) => hub.getTwin(d!));
  route('PATCH', new RegExp(`^/devices/${id}/twin/desired$`), async ([d], _u, req) => hub.updateDesired(d!, obj(await readBody(req))));
  route('POST', new RegExp(`^/devices/${id}/methods/${id}$`), async ([d, name], _u, req) => {
    const body = obj(await readBody(req));
    const timeout = body.responseTimeoutMs;
    if (timeout !== undefined && typeof timeout !== 'number') throw new HttpError(400, 'EDGE_USAGE', 'responseTimeoutMs must be a number');
    return hub.invokeMethod(d!, name!, body.payload, timeout === undefined ? {} : { responseTimeoutMs: timeout });
  });
  route('POST', new RegExp(`^/devices/${id}/messages$`), async ([d], _u, req) => {
    const b = obj(await readBody(req));
    const text = optionalString(b.body, 'body') ?? '';
    const body = b.bodyEncoding === 'base64' ? Buffer.from(text, 'base64') : Buffer.from(text, 'utf8');
    const props = b.properties === undefined ? undefined : obj(b.properties);
    const options: Record<string, unknown> = {};
    for (const k of ['messageId', 'correlationId', 'contentType', 'contentEncoding'] as const) {
      const v = optionalString(b[k], k);
      if (v !== undefined) options[k] = v;
    }
    if (props) options.properties = Object.fromEntries(Object.entries(props).map(([k, v]) => [k, String(v)]));
    return hub.sendC2D(d!, body, options);
  });
  route('GET', /^\/messages$/, async () => {
    const log = hub.messageLog;
    const ends = await Promise.all(Array.from({ length: log.partitionCount }, (_, p) => log.endOf(p)));
    return { partitionCount: log.partitionCount, ends };
  });
  route('GET', /^\/messages\/(\d+)$/, async ([p], url) => {
    const partition = Number(p);
    if (partition >= hub.messageLog.partitionCount) throw new HttpError(404, 'EDGE_USAGE', `no partition ${partition}`);
    const from = intParam(url.searchParams.get('from'), 'from', 0);
    const limit = Math.min(intParam(url.searchParams.get('limit'), 'limit', 100), 10_000);
    return (await hub.messageLog.read(partition, from, limit)).map(hubEventToWire);
  });
  route('GET', /^\/faults$/, async () => hub.faults.status());
  route('DELETE', /^\/faults$/, async () => {
    hub.faults.clearAll();
    return hub.faults.status();
  });
  route('POST', new RegExp(`^/faults/drop/${id}$`), async ([d]) => ({ dropped: hub.faults.dropConnection(d!) }));
  route('POST', new RegExp(`^/faults/silence/${id}$`), async ([d]) => ({ silenced: hub.faults.goSilent(d!) }));
  route('POST', new RegExp(`^/faults/hold-acks/${id}$`), async ([d]) => {
    hub.faults.holdAcks(d!);
    return hub.faults.status();
  });
  route('POST', new RegExp(`^/faults/release-acks/${id}$`), async ([d], _u, req) => {
    const deliver = obj(await readBody(req)).deliver;
    if (deliver !== undefined && typeof deliver !== 'boolean') throw new HttpError(400, 'EDGE_USAGE', 'deliver must be a boolean');
    return { released: hub.faults.releaseAcks(d!, deliver === undefined ? {} : { deliver }) };
  });
  route('POST', /^\/faults\/refuse$/, async (_m, _u, req) => {
    const b = obj(await readBody(req));
    const mode = b.mode;
    if (mode !== undefined && mode !== 'reset' && mode !== 'server-unavailable') {
      throw new HttpError(400, 'EDGE_USAGE', 'mode must be "reset" or "server-unavailable"');
    }
    if (b.durationMs !== undefined && typeof b.durationMs !== 'number') throw new HttpError(400, 'EDGE_USAGE', 'durationMs must be a number');
    const options: { durationMs?: number; mode?: RefuseMode } = {};
    if (b.durationMs !== undefined) options.durationMs = b.durationMs as number;
    if (mode !== undefined) options.mode = mode;
    hub.faults.refuseConnections(options);
    return hub.faults.status();
  });
  route('DELETE', /^\/faults\/refuse$/, async () => {
    hub.faults.acceptConnections();
    return hub.faults.status();
  });

  const send = (res: ServerResponse, status: number, body: unknown): void => {
    const text = JSON.stringify(body ?? null);
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  };

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (req.method === 'GET' && url.pathname === '/ca') {
      res.writeHead(200, { 'content-type': 'application/x-pem-file' });
      res.end(hub.caPem);
      return;
    }
    let allowed = false;
    for (const r of routes) {
      const m = r.path.exec(url.pathname);
      if (!m) continue;
      allowed = true;
      if (r.method !== req.method) continue;
      const params = m.slice(1).map((s) => decodeURIComponent(s));
      r.handle(params, url, req).then(
        (body) => send(res, 200, body),
        (err: unknown) => {
          const { status, code } = statusFor(err);
          send(res, status, { error: { code, message: errorMessage(err) } });
        },
      );
      return;
    }
    send(res, allowed ? 405 : 404, { error: { code: 'EDGE_USAGE', message: `${allowed ? 'method not allowed' : 'no such endpoint'}: ${req.method} ${url.pathname}` } });
  });
  await listen(server, port, host, 'IoT Hub emulator service API');
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
