import { parseSasToken } from '../sas.js';
import { verifyServiceToken, type ClaimVerdict, type SharedAccessPolicy } from './policies.js';

/**
 * What one AMQP connection has been authorised for through CBS put-token: each accepted token
 * grants its resource path (and everything under it) until the token's expiry. Event Hubs
 * checks a link's address against these when the link attaches.
 */
export class ConnectionClaims {
  private readonly claims: Array<{ path: string; expiresAtMs: number }> = [];

  constructor(
    private readonly policies: readonly SharedAccessPolicy[],
    private readonly hosts: () => readonly string[],
    private readonly now: () => number,
  ) {}

  /** Verifies a put-token token and, when good, records its claim. */
  putToken(token: string): ClaimVerdict {
    const verdict = checkToken(token, this.policies, this.hosts(), this.now());
    if (verdict.ok) {
      // The SDK renews its tokens on a timer: drop the expired claims rather than keep them all.
      const now = this.now();
      for (let i = this.claims.length - 1; i >= 0; i--) if (this.claims[i]!.expiresAtMs <= now) this.claims.splice(i, 1);
      this.claims.push({ path: verdict.resourcePath.toLowerCase(), expiresAtMs: verdict.expiresAtMs });
    }
    return verdict;
  }

  /** True when an unexpired claim covers the entity address (e.g. `hub/ConsumerGroups/$Default/Partitions/0`). */
  covers(address: string): boolean {
    const path = ('/' + address.replace(/^\/+/, '')).toLowerCase();
    const now = this.now();
    return this.claims.some((c) => c.expiresAtMs > now && (c.path === '/' || path === c.path || path.startsWith(c.path + '/')));
  }
}

export function checkToken(token: string, policies: readonly SharedAccessPolicy[], hosts: readonly string[], nowMs: number): ClaimVerdict {
  const parsed = parseSasToken(token);
  if (!parsed) return { ok: false, reason: 'malformed' };
  return verifyServiceToken(parsed, policies, { hosts, nowMs });
}
