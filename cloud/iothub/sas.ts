import { timingSafeEqual } from 'node:crypto';
import commonSdk from 'azure-iot-common';

const { SharedAccessSignature, encodeUriComponentStrict } = commonSdk;

/**
 * IoT Hub shared access signatures, signed by azure-iot-common's `SharedAccessSignature` (the
 * device SDK's own signer, so the hub side computes exactly what devices compute):
 * `SharedAccessSignature sr=<url-encoded resource>&sig=<url-encoded base64 HMAC-SHA256>&se=<expiry
 * seconds>[&skn=<policy>]`, where the signed string is the url-encoded resource, a newline, and
 * the expiry.
 */
export interface SasToken {
  /** The resource exactly as it appears in the token (url-encoded): the signature covers this form. */
  rawResource: string;
  /** The resource decoded, e.g. `localhost:8883/devices/dev-1`. */
  resource: string;
  /** Signature bytes (base64-decoded). */
  signature: Buffer;
  /** Expiry in seconds since the epoch. */
  expiry: number;
  keyName?: string;
}

/** Why a token was refused; the emulator logs it, the device only ever sees "not authorized". */
export type SasRefusal = 'malformed' | 'wrong-resource' | 'expired' | 'bad-signature';

export type SasVerdict = { ok: true } | { ok: false; reason: SasRefusal };

const PREFIX = 'SharedAccessSignature ';

/** Parses a token; returns undefined when it is not a well-formed SAS token. */
export function parseSasToken(token: string): SasToken | undefined {
  if (!token.startsWith(PREFIX)) return undefined;
  const fields = new Map<string, string>();
  for (const part of token.slice(PREFIX.length).split('&')) {
    const eq = part.indexOf('=');
    if (eq <= 0) return undefined;
    fields.set(part.slice(0, eq), part.slice(eq + 1));
  }
  const rawResource = fields.get('sr');
  const sig = fields.get('sig');
  const se = fields.get('se');
  if (!rawResource || !sig || !se || !/^\d+$/.test(se)) return undefined;
  let resource: string;
  let signature: Buffer;
  try {
    resource = decodeURIComponent(rawResource);
    signature = Buffer.from(decodeURIComponent(sig), 'base64');
  } catch {
    return undefined;
  }
  const skn = fields.get('skn');
  const parsed: SasToken = { rawResource, resource, signature, expiry: Number(se) };
  if (skn !== undefined) parsed.keyName = decodeURIComponent(skn);
  return parsed;
}

/** base64(HMAC-SHA256(base64-decoded key, `<url-encoded resource>\n<expiry>`)) as raw bytes. */
function sasSignature(base64Key: string, rawResource: string, expiry: number): Buffer {
  // As a string: the SDK refuses a falsy expiry, and a token with se=0 must still be judged (expired).
  const sig = SharedAccessSignature.create(rawResource, '', base64Key, String(expiry)).sig;
  return Buffer.from(decodeURIComponent(sig), 'base64');
}

/** Builds a device token the way the SDK does (for tests and service-side tools). */
export function createSasToken(resource: string, base64Key: string, expirySeconds: number, keyName?: string): string {
  return SharedAccessSignature.create(encodeUriComponentStrict(resource), keyName ?? '', base64Key, String(expirySeconds)).toString();
}

/**
 * Checks a device token. The resource must name this device (`<host>/devices/<deviceId>`, host
 * compared case-insensitively as DNS names are); the signature must match one of the device's
 * keys (primary or secondary, as IoT Hub accepts either); the token must not have expired at
 * `nowMs`. Comparison is timing-safe so a forger learns nothing from response times.
 */
export function verifySasToken(
  token: SasToken,
  expected: { host: string; deviceId: string; keys: readonly string[]; nowMs: number },
): SasVerdict {
  const slash = token.resource.indexOf('/');
  const tokenHost = slash < 0 ? token.resource : token.resource.slice(0, slash);
  const tokenPath = slash < 0 ? '' : token.resource.slice(slash);
  if (tokenHost.toLowerCase() !== expected.host.toLowerCase() || tokenPath !== `/devices/${expected.deviceId}`) {
    return { ok: false, reason: 'wrong-resource' };
  }
  let match = false;
  for (const key of expected.keys) {
    const sig = sasSignature(key, token.rawResource, token.expiry);
    // Evaluate every key even after a match, so timing does not reveal which key matched.
    if (sig.length === token.signature.length && timingSafeEqual(sig, token.signature)) match = true;
  }
  if (!match) return { ok: false, reason: 'bad-signature' };
  if (token.expiry * 1000 <= expected.nowMs) return { ok: false, reason: 'expired' };
  return { ok: true };
}
