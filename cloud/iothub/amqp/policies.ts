import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { join } from 'node:path';
import { EdgeError } from '../../../agent/core/errors.js';
import { readJsonFile, writeFileAtomic } from '../atomic-file.js';
import type { SasToken } from '../sas.js';

/**
 * The hub's shared access policies, as IoT Hub creates them for a new hub: `iothubowner` (every
 * right), `service` (ServiceConnect: read the Event Hub-compatible endpoint, call devices) and
 * `registryRead` (no ServiceConnect, so its key must not open the event stream). Kept in
 * `policies.json` in the data dir, created on first use, so a connection string handed out once
 * stays valid across restarts.
 */
export type PolicyRight = 'RegistryRead' | 'RegistryWrite' | 'ServiceConnect' | 'DeviceConnect';

export interface SharedAccessPolicy {
  keyName: string;
  /** Base64, 32 random bytes. */
  primaryKey: string;
  secondaryKey: string;
  rights: PolicyRight[];
}

interface PoliciesFile {
  version: 1;
  /** Epoch ms the policies were made: the hub's `createdOn` on `$management`. */
  createdAt: number;
  policies: SharedAccessPolicy[];
}

export interface HubPolicies {
  createdAt: number;
  policies: SharedAccessPolicy[];
}

const DEFAULT_POLICIES: ReadonlyArray<Pick<SharedAccessPolicy, 'keyName' | 'rights'>> = [
  { keyName: 'iothubowner', rights: ['RegistryRead', 'RegistryWrite', 'ServiceConnect', 'DeviceConnect'] },
  { keyName: 'service', rights: ['ServiceConnect'] },
  { keyName: 'registryRead', rights: ['RegistryRead'] },
];

export function policiesPath(dataDir: string): string {
  return join(dataDir, 'policies.json');
}

/** Reads the data dir's policies, creating them (with fresh keys, `createdAt` = `nowMs`) on first use. */
export async function loadPolicies(dataDir: string, nowMs: number): Promise<HubPolicies> {
  const path = policiesPath(dataDir);
  const doc = await readJsonFile(path);
  if (doc !== undefined) {
    const { policies, createdAt } = doc as Partial<PoliciesFile>;
    if (!Array.isArray(policies) || policies.some((p) => typeof p?.keyName !== 'string' || typeof p.primaryKey !== 'string')) {
      throw new EdgeError('EDGE_STORE_CORRUPT', `shared access policies ${path} have no valid "policies" list`);
    }
    return { policies, createdAt: Number.isSafeInteger(createdAt) ? createdAt! : 0 };
  }
  const key = (): string => randomBytes(32).toString('base64');
  const policies = DEFAULT_POLICIES.map((p) => ({ keyName: p.keyName, primaryKey: key(), secondaryKey: key(), rights: [...p.rights] }));
  const file: PoliciesFile = { version: 1, createdAt: nowMs, policies };
  await writeFileAtomic(path, JSON.stringify(file, null, 2) + '\n');
  return { policies, createdAt: nowMs };
}

export type ClaimRefusal = 'malformed' | 'wrong-resource' | 'unknown-policy' | 'bad-signature' | 'expired' | 'no-right';

export type ClaimVerdict = { ok: true; policy: string; resourcePath: string; expiresAtMs: number } | { ok: false; reason: ClaimRefusal };

/**
 * Checks a put-token SAS token the way Event Hubs does for a shared access policy: it must name
 * one of the hub's policies (`skn`), be signed with one of that policy's keys, not have expired,
 * name a resource on this endpoint (`sb://<host>/<path>`, the host one of `hosts`), and the
 * policy must carry ServiceConnect. `resourcePath` is the resource without scheme and host: a
 * claim on it covers every address under it.
 */
export function verifyServiceToken(
  token: SasToken,
  policies: readonly SharedAccessPolicy[],
  expected: { hosts: readonly string[]; nowMs: number },
): ClaimVerdict {
  const m = /^(?:sb|amqps?):\/\/([^/]+)(\/.*)?$/i.exec(token.resource);
  if (!m || !expected.hosts.some((h) => h.toLowerCase() === m[1]!.toLowerCase())) return { ok: false, reason: 'wrong-resource' };
  const policy = policies.find((p) => p.keyName === token.keyName);
  if (!policy) return { ok: false, reason: 'unknown-policy' };
  let match = false;
  // Event Hubs clients (@azure/core-amqp) sign with the key text's UTF-8 bytes; IoT Hub's own
  // service SDK signs with the base64-decoded key. The hub accepts both, so the emulator does.
  const secrets = [policy.primaryKey, policy.secondaryKey].flatMap((k) => [Buffer.from(k, 'utf8'), Buffer.from(k, 'base64')]);
  for (const secret of secrets) {
    const sig = createHmac('sha256', secret).update(`${token.rawResource}\n${token.expiry}`).digest();
    // Every secret is always checked, so timing does not reveal which one matched.
    if (sig.length === token.signature.length && timingSafeEqual(sig, token.signature)) match = true;
  }
  if (!match) return { ok: false, reason: 'bad-signature' };
  if (token.expiry * 1000 <= expected.nowMs) return { ok: false, reason: 'expired' };
  if (!policy.rights.includes('ServiceConnect')) return { ok: false, reason: 'no-right' };
  const path = (m[2] ?? '/').replace(/\/+$/, '');
  return { ok: true, policy: policy.keyName, resourcePath: path === '' ? '/' : path, expiresAtMs: token.expiry * 1000 };
}

/** `Endpoint=sb://HOST/;SharedAccessKeyName=…;SharedAccessKey=…;EntityPath=…` plus the flag that makes the SDK speak plain AMQP. */
export function eventHubsConnectionString(host: string, hubName: string, policy: SharedAccessPolicy): string {
  // UseDevelopmentEmulator=true: @azure/core-amqp then connects over plain TCP (no TLS) to the
  // port in the endpoint; the flag is what the official Event Hubs emulator's strings carry.
  return `Endpoint=sb://${host}/;SharedAccessKeyName=${policy.keyName};SharedAccessKey=${policy.primaryKey};EntityPath=${hubName};UseDevelopmentEmulator=true`;
}
