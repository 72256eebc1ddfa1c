import { describe, expect, it } from 'vitest';
import commonSdk from 'azure-iot-common';
import { createSasToken, parseSasToken, verifySasToken } from '../../../cloud/iothub/index.js';

const key = Buffer.alloc(32, 1).toString('base64');
const other = Buffer.alloc(32, 2).toString('base64');
const host = 'localhost:8883';
const expiry = 2_000_000_000;

describe('SAS tokens', () => {
  it('builds exactly the token the SDK builds', () => {
    const sdk = commonSdk.SharedAccessSignature.create(encodeURIComponent(`${host}/devices/dev-1`), '', key, expiry).toString();
    expect(createSasToken(`${host}/devices/dev-1`, key, expiry)).toBe(sdk);
  });

  const cases: Array<{ name: string; token: string; keys: string[]; now: number; expected: ReturnType<typeof verifySasToken> }> = [
    { name: 'valid with the primary key', token: createSasToken(`${host}/devices/dev-1`, key, expiry), keys: [key, other], now: 0, expected: { ok: true } },
    { name: 'valid with the secondary key', token: createSasToken(`${host}/devices/dev-1`, other, expiry), keys: [key, other], now: 0, expected: { ok: true } },
    { name: 'host compared case-insensitively', token: createSasToken(`LOCALHOST:8883/devices/dev-1`, key, expiry), keys: [key], now: 0, expected: { ok: true } },
    { name: 'wrong key', token: createSasToken(`${host}/devices/dev-1`, other, expiry), keys: [key], now: 0, expected: { ok: false, reason: 'bad-signature' } },
    { name: 'expired at exactly se', token: createSasToken(`${host}/devices/dev-1`, key, expiry), keys: [key], now: expiry * 1000, expected: { ok: false, reason: 'expired' } },
    // The SDK's signer refuses a falsy expiry; the hub side must still sign it and say "expired".
    { name: 'se=0 is expired, not an error', token: createSasToken(`${host}/devices/dev-1`, key, 0), keys: [key], now: 1, expected: { ok: false, reason: 'expired' } },
    { name: 'one ms before se', token: createSasToken(`${host}/devices/dev-1`, key, expiry), keys: [key], now: expiry * 1000 - 1, expected: { ok: true } },
    { name: 'another device\'s resource', token: createSasToken(`${host}/devices/dev-2`, key, expiry), keys: [key], now: 0, expected: { ok: false, reason: 'wrong-resource' } },
    { name: 'another hub', token: createSasToken(`elsewhere:8883/devices/dev-1`, key, expiry), keys: [key], now: 0, expected: { ok: false, reason: 'wrong-resource' } },
    {
      name: 'tampered expiry',
      token: createSasToken(`${host}/devices/dev-1`, key, expiry).replace(`se=${expiry}`, `se=${expiry + 1}`),
      keys: [key],
      now: 0,
      expected: { ok: false, reason: 'bad-signature' },
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const parsed = parseSasToken(c.token);
      expect(parsed).toBeDefined();
      expect(verifySasToken(parsed!, { host, deviceId: 'dev-1', keys: c.keys, nowMs: c.now })).toEqual(c.expected);
    });
  }

  it('rejects malformed tokens', () => {
    for (const bad of ['', 'Bearer x', 'SharedAccessSignature sr=a&sig=b', 'SharedAccessSignature sr=a&sig=b&se=soon', 'SharedAccessSignature sr=%E0%A4%A&sig=b&se=1']) {
      expect(parseSasToken(bad)).toBeUndefined();
    }
    expect(parseSasToken(createSasToken('h/devices/d', key, 5, 'device'))?.keyName).toBe('device');
  });
});
