import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * The blob SAS the emulator's hub hands a device for one upload, shaped like Azure Storage's
 * service SAS query string (`?sv=…&sr=b&sp=…&se=…&sig=…`) so @azure/storage-blob appends it
 * to its requests unchanged. Only this emulator checks it, so the string it signs is its own
 * (permissions, expiry, container and blob), keyed by the file store's secret.
 */
export const SAS_VERSION = '2021-08-06';
const PERMISSIONS = 'cw';

export interface BlobSasGrant {
  container: string;
  blobName: string;
  expiresAtMs: number;
}

/** A SAS for another blob fails its signature: the blob's path is part of what is signed. */
export type BlobSasRefusal = 'missing' | 'expired' | 'bad-signature' | 'permission';

function sign(key: Buffer, grant: BlobSasGrant, permissions: string, expiry: string): Buffer {
  return createHmac('sha256', key).update(`${permissions}\n${expiry}\n/${grant.container}/${grant.blobName}`).digest();
}

/** The query string (with its leading `?`) that lets its holder write this one blob until it expires. */
export function issueBlobSas(key: Buffer, grant: BlobSasGrant): string {
  const se = new Date(grant.expiresAtMs).toISOString().replace(/\.\d{3}Z$/, 'Z');
  const sig = sign(key, grant, PERMISSIONS, se).toString('base64');
  const q = new URLSearchParams({ sv: SAS_VERSION, sr: 'b', sp: PERMISSIONS, se, sig });
  return `?${q.toString()}`;
}

/** Checks a request's SAS against the blob it addresses, timing-safe, expiry by `nowMs`. */
export function verifyBlobSas(key: Buffer, query: URLSearchParams, target: { container: string; blobName: string }, nowMs: number, needs: 'c' | 'w'): { ok: true } | { ok: false; reason: BlobSasRefusal } {
  const sig = query.get('sig');
  const se = query.get('se');
  const sp = query.get('sp');
  if (!sig || !se || !sp || query.get('sr') !== 'b') return { ok: false, reason: 'missing' };
  const expiresAtMs = Date.parse(se);
  if (!Number.isFinite(expiresAtMs)) return { ok: false, reason: 'missing' };
  const expected = sign(key, { ...target, expiresAtMs }, sp, se);
  const given = Buffer.from(sig, 'base64');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, reason: 'bad-signature' };
  if (expiresAtMs <= nowMs) return { ok: false, reason: 'expired' };
  if (!sp.includes(needs)) return { ok: false, reason: 'permission' };
  return { ok: true };
}
