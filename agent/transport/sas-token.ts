import commonSdk from 'azure-iot-common';

const { SharedAccessSignature, encodeUriComponentStrict } = commonSdk;

/**
 * A device SAS token for `<host>/devices/<id>`, signed by azure-iot-common (the SDK's own
 * signer, so the token is byte for byte what the SDK would make). The agent makes its own
 * short-lived tokens so that it, not the SDK, decides when to renew (by a planned reconnect that
 * first lets sends in flight finish: zero loss, zero failed sends).
 */
export function deviceSasToken(host: string, deviceId: string, base64Key: string, expirySeconds: number): string {
  // The SDK signs `sr` as given: it must already be url-encoded, as IoT Hub expects.
  return SharedAccessSignature.create(encodeUriComponentStrict(`${host}/devices/${deviceId}`), '', base64Key, expirySeconds).toString();
}
