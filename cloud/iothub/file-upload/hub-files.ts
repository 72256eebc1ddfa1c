import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { Clock } from '../../../agent/core/clock.js';
import { errorMessage } from '../../../agent/core/errors.js';
import type { Logger } from '../../../agent/core/logger.js';
import { normalizeThumbprint, type DeviceRegistry } from '../device-registry.js';
import { parseSasToken, verifySasToken } from '../sas.js';
import { issueBlobSas } from './blob-sas.js';
import { blobNameProblem, type FileStore, type UploadRecord } from './file-store.js';

export interface HubFilesDeps {
  registry: DeviceRegistry;
  store: FileStore;
  clock: Clock;
  log: Logger;
  /** Host names this hub answers to, as in device SAS tokens (`localhost:PORT`, …). */
  hostNames: () => readonly string[];
  /** `host:port` of the blob endpoint, as the hub tells devices where to upload. */
  blobHost: () => string;
  /** How long a blob SAS lets its device write (IoT Hub: 1 hour by default). */
  sasTtlMs: number;
  onNotified: (record: UploadRecord) => void;
  /** The hub refuses service (fault injection): every request is a 503, as in an outage. */
  unavailable: () => boolean;
}

const MAX_BODY_BYTES = 64 * 1024;
const FILES = /^\/devices\/([^/]+)\/files$/;
const NOTIFICATIONS = /^\/devices\/([^/]+)\/files\/notifications(?:\/([^/]+))?$/;

/**
 * IoT Hub's device file-upload REST endpoints, as azure-iot-device's FileUploadApi calls them on
 * the hub's host: `POST /devices/{id}/files` (a SAS URI for one blob) and
 * `POST /devices/{id}/files/notifications[/{correlationId}]` (the outcome). The device proves
 * itself as on MQTT: its SAS token in `Authorization`, or its X.509 certificate on the TLS link.
 */
export function hubFilesHandler(deps: HubFilesDeps): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    handle(deps, req, res).catch((err: unknown) => {
      deps.log.error({ err: errorMessage(err) }, 'file upload request failed');
      if (!res.headersSent) hubError(res, 500, 'ServerError', 'internal error');
      else res.destroy();
    });
  };
}

async function handle(deps: HubFilesDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'https://hub');
  const files = FILES.exec(url.pathname);
  const notification = NOTIFICATIONS.exec(url.pathname);
  if (req.method !== 'POST' || (!files && !notification)) return hubError(res, 404, 'NotFound', `${req.method} ${url.pathname} is not an IoT Hub device endpoint this emulator serves`);
  if (deps.unavailable()) {
    req.resume();
    return hubError(res, 503, 'ServerBusy', 'the hub is not available');
  }
  const deviceId = decodeURIComponent((files ?? notification)![1]!);
  const refusal = authorize(deps, req, deviceId);
  if (refusal) {
    deps.log.info({ deviceId, reason: refusal }, 'file upload request refused');
    return hubError(res, 401, 'IotHubUnauthorizedAccess', 'Unauthorized');
  }
  const body = await readJson(req);
  if (body === undefined) return hubError(res, 400, 'ArgumentInvalid', 'the body is not a JSON object');
  const now = deps.clock.now();

  if (files) {
    const blobName = body.blobName;
    const problem = typeof blobName === 'string' ? blobNameProblem(blobName) : 'blobName is missing';
    if (problem || typeof blobName !== 'string') return hubError(res, 400, 'ArgumentInvalid', problem ?? 'blobName is missing');
    const record = await deps.store.requestUpload(deviceId, blobName, now);
    const sasToken = issueBlobSas(deps.store.key, { container: record.container, blobName: record.blobName, expiresAtMs: now + deps.sasTtlMs });
    deps.log.info({ deviceId, blobName: record.blobName, correlationId: record.correlationId }, 'file upload SAS issued');
    return json(res, 200, { correlationId: record.correlationId, hostName: deps.blobHost(), containerName: record.container, blobName: record.blobName, sasToken });
  }

  const correlationId = notification![2] !== undefined ? decodeURIComponent(notification![2]) : body.correlationId;
  const isSuccess = body.isSuccess;
  const statusCode = body.statusCode;
  if (typeof correlationId !== 'string' || typeof isSuccess !== 'boolean' || typeof statusCode !== 'number') {
    return hubError(res, 400, 'ArgumentInvalid', 'a notification has a correlationId, isSuccess (boolean) and statusCode (number)');
  }
  const statusDescription = typeof body.statusDescription === 'string' ? body.statusDescription : '';
  const record = await deps.store.notify(deviceId, correlationId, { isSuccess, statusCode, statusDescription }, now);
  if (!record) return hubError(res, 400, 'ArgumentInvalid', `no upload ${correlationId} of device ${deviceId}`);
  deps.log.info({ deviceId, blobName: record.blobName, isSuccess, statusCode }, 'file upload notified');
  deps.onNotified({ ...record });
  res.writeHead(204).end();
}

/** Undefined when the request proves it comes from `deviceId`, else why not (for the log). */
function authorize(deps: HubFilesDeps, req: IncomingMessage, deviceId: string): string | undefined {
  const identity = deps.registry.get(deviceId);
  if (!identity) return 'device is not registered';
  const header = req.headers.authorization;
  if (header === undefined) {
    if (!identity.x509Thumbprint) return 'no SAS token, and the device is not registered for X.509';
    const cert = (req.socket as TLSSocket).getPeerCertificate?.();
    const thumbprint = cert?.fingerprint256 ? normalizeThumbprint(cert.fingerprint256) : undefined;
    return thumbprint === identity.x509Thumbprint ? undefined : 'client certificate is not the device\'s';
  }
  const token = parseSasToken(header);
  if (!token) return 'Authorization is not a SharedAccessSignature';
  const host = deps.hostNames().find((h) => token.resource.toLowerCase().startsWith(`${h.toLowerCase()}/`));
  if (!host) return `token is for ${token.resource}, not this hub`;
  const verdict = verifySasToken(token, { host, deviceId, keys: [identity.primaryKey, identity.secondaryKey], nowMs: deps.clock.now() });
  return verdict.ok ? undefined : `SAS token ${verdict.reason}`;
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown> | undefined> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) return undefined;
    chunks.push(chunk);
  }
  try {
    const v: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) }).end(text);
}

/** IoT Hub's error body: `Message` carries `ErrorCode:<code>;<text>`. */
function hubError(res: ServerResponse, status: number, code: string, message: string): void {
  json(res, status, { Message: `ErrorCode:${code};${message}`, ExceptionMessage: '' });
}
