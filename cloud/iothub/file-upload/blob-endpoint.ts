import { createHash, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { Clock } from '../../../agent/core/clock.js';
import { errorMessage, isEdgeError } from '../../../agent/core/errors.js';
import type { Logger } from '../../../agent/core/logger.js';
import { listen } from '../listen.js';
import { SAS_VERSION, verifyBlobSas } from './blob-sas.js';
import type { FileStore } from './file-store.js';

export interface BlobEndpointDeps {
  store: FileStore;
  clock: Clock;
  log: Logger;
  certPem: string;
  keyPem: string;
}

export interface BlobEndpoint {
  readonly port: number;
  close(): Promise<void>;
}

const MAX_BLOCK_LIST_BYTES = 4 * 1024 * 1024;

/**
 * The storage account's blob service, as far as @azure/storage-blob's BlockBlobClient writes to
 * it for IoT Hub file upload: Put Blob (`PUT` with `x-ms-blob-type: BlockBlob`), Put Block
 * (`?comp=block&blockid=…`) and Put Block List (`?comp=blocklist`, XML body). Every request must
 * carry the SAS the hub issued for that blob; failures answer with Storage's XML error and
 * `x-ms-error-code`, which the client turns into its RestError.
 */
export async function startBlobEndpoint(deps: BlobEndpointDeps, host: string): Promise<BlobEndpoint> {
  const sockets = new Set<Socket>();
  const server: Server = createServer({ cert: deps.certPem, key: deps.keyPem, minVersion: 'TLSv1.2' }, (req, res) => {
    handle(deps, req, res).catch((err: unknown) => {
      const status = isEdgeError(err, 'EDGE_USAGE') ? 400 : isEdgeError(err, 'EDGE_MESSAGE_TOO_LARGE') ? 413 : 500;
      const code = status === 400 ? 'InvalidBlockList' : status === 413 ? 'RequestBodyTooLarge' : 'InternalError';
      if (status === 500) deps.log.error({ err: errorMessage(err) }, 'blob request failed');
      if (!res.headersSent) storageError(res, status, code, errorMessage(err));
      else res.destroy();
    });
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  await listen(server, 0, host, 'blob storage');
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  };
}

async function handle(deps: BlobEndpointDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'https://blob');
  const [container, ...rest] = url.pathname.slice(1).split('/').map((s) => decodeURIComponent(s));
  const blobName = rest.join('/');
  if (!container || !blobName) return storageError(res, 400, 'InvalidUri', 'the path is /<container>/<blob>');
  if (req.method !== 'PUT') return storageError(res, 405, 'UnsupportedHttpVerb', `${req.method} is not served; devices only write`);
  const comp = url.searchParams.get('comp');
  const verdict = verifyBlobSas(deps.store.key, url.searchParams, { container, blobName }, deps.clock.now(), comp === 'blocklist' || comp === null ? 'c' : 'w');
  if (!verdict.ok) {
    deps.log.info({ container, blobName, reason: verdict.reason }, 'blob request refused');
    req.resume();
    return storageError(res, 403, 'AuthenticationFailed', `Server failed to authenticate the request (SAS ${verdict.reason}).`);
  }
  const now = deps.clock.now();
  if (comp === 'block') {
    const blockId = url.searchParams.get('blockid');
    if (!blockId || !/^[A-Za-z0-9+/=]{1,88}$/.test(blockId)) return storageError(res, 400, 'InvalidQueryParameterValue', 'blockid is base64 of at most 64 bytes');
    await deps.store.stageBlock(container, blobName, blockId, req);
    return created(res, {});
  }
  if (comp === 'blocklist') {
    const ids = parseBlockList(await readText(req, MAX_BLOCK_LIST_BYTES));
    if (!ids) return storageError(res, 400, 'InvalidXmlDocument', 'the body is not a <BlockList>');
    const { bytes } = await deps.store.commitBlocks(container, blobName, ids, now);
    deps.log.info({ container, blobName, bytes, blocks: ids.length }, 'blob committed');
    return created(res, blobHeaders(now, `${blobName}:${bytes}:${now}`));
  }
  if (comp !== null) return storageError(res, 400, 'InvalidQueryParameterValue', `comp=${comp} is not served`);
  if (req.headers['x-ms-blob-type'] !== 'BlockBlob') return storageError(res, 400, 'MissingRequiredHeader', 'Put Blob needs x-ms-blob-type: BlockBlob');
  const { bytes } = await deps.store.putBlob(container, blobName, req, now);
  deps.log.info({ container, blobName, bytes }, 'blob stored');
  return created(res, blobHeaders(now, `${blobName}:${bytes}:${now}`));
}

/** `<BlockList><Latest>id</Latest>…</BlockList>`: ids in order (Latest, Uncommitted and Committed alike, as all are staged here). */
export function parseBlockList(xml: string): string[] | undefined {
  const body = /<BlockList>([\s\S]*)<\/BlockList>/.exec(xml)?.[1];
  if (body === undefined) return undefined;
  const ids: string[] = [];
  const item = /<(Latest|Uncommitted|Committed)>([^<]*)<\/\1>/g;
  for (let m = item.exec(body); m; m = item.exec(body)) ids.push(m[2]!.trim());
  return ids;
}

function blobHeaders(now: number, identity: string): Record<string, string> {
  return {
    etag: `"0x${createHash('sha256').update(identity).digest('hex').slice(0, 15).toUpperCase()}"`,
    'last-modified': new Date(now).toUTCString(),
  };
}

function created(res: ServerResponse, headers: Record<string, string>): void {
  res
    .writeHead(201, { ...headers, 'x-ms-request-id': randomUUID(), 'x-ms-version': SAS_VERSION, 'x-ms-request-server-encrypted': 'true', 'content-length': '0' })
    .end();
}

function storageError(res: ServerResponse, status: number, code: string, message: string): void {
  const xml = `<?xml version="1.0" encoding="utf-8"?><Error><Code>${code}</Code><Message>${escapeXml(message)}</Message></Error>`;
  res.writeHead(status, { 'content-type': 'application/xml', 'x-ms-error-code': code, 'x-ms-request-id': randomUUID(), 'content-length': Buffer.byteLength(xml) }).end(xml);
}

function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

async function readText(req: IncomingMessage, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) return '';
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}
