import { createHmac } from 'node:crypto';

/**
 * A device SAS token, built as IoT Hub and the SDK do: `SharedAccessSignature sr=<url-encoded
 * host/devices/id>&sig=<url-encoded base64 HMAC-SHA256(key, sr + "\n" + expiry)>&se=<expiry s>`.
 * The agent makes its own short-lived tokens so that it, not the SDK, decides when to renew
 * (by a planned reconnect that first lets sends in flight finish: zero loss, zero failed sends).
 */
export function deviceSasToken(host: string, deviceId: string, base64Key: string, expirySeconds: number): string {
  const sr = strictEncode(`${host}/devices/${deviceId}`);
  const sig = createHmac('sha256', Buffer.from(base64Key, 'base64')).update(`${sr}\n${expirySeconds}`).digest('base64');
  return `SharedAccessSignature sr=${sr}&sig=${strictEncode(sig)}&se=${expirySeconds}`;
}

/** encodeURIComponent plus `!'()*`, as the SDK encodes. */
function strictEncode(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16));
}
