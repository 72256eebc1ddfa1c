import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../agent/config/load.js';
import { redact } from '../../../agent/diagnostics/provenance.js';
import { reprovisionHandler } from '../../../agent/methods/reprovision.js';

const dps = { idScope: '0ne0001', registrationId: 'gw-1' };

describe('config: provisioning (DPS) instead of a connection string', () => {
  it('accepts provisioning alone, with defaults for the endpoint and the re-provisioning rule', () => {
    const c = parseConfig({ dataDir: '/tmp/x', provisioning: { ...dps, groupKey: 'a2V5' } }, 'test');
    expect(c.hub.connectionString).toBeUndefined();
    expect(c.provisioning).toMatchObject({ globalEndpoint: 'global.azure-devices-provisioning.net', hubGoneAfterMs: 1_800_000, minIntervalMs: 300_000 });
  });

  it.each([
    ['neither', { dataDir: '/tmp/x' }, /hub\.connectionString: give exactly one of "hub\.connectionString" and "provisioning"/],
    ['both', { dataDir: '/tmp/x', hub: { connectionString: 'HostName=h;DeviceId=d;SharedAccessKey=k' }, provisioning: { ...dps, symmetricKey: 'k' } }, /exactly one of "hub\.connectionString" and "provisioning"/],
    ['no attestation', { dataDir: '/tmp/x', provisioning: dps }, /provisioning: give exactly one of "symmetricKey"/],
    ['two attestations', { dataDir: '/tmp/x', provisioning: { ...dps, symmetricKey: 'k', groupKey: 'g' } }, /provisioning: give exactly one of "symmetricKey"/],
    ['hub.x509 beside provisioning', { dataDir: '/tmp/x', hub: { x509: { certFile: '/c', keyFile: '/k' } }, provisioning: { ...dps, symmetricKey: 'k' } }, /hub\.x509: with "provisioning", the certificate goes in "provisioning\.x509"/],
    ['a bad registration id', { dataDir: '/tmp/x', provisioning: { ...dps, registrationId: 'gw 1', symmetricKey: 'k' } }, /provisioning\.registrationId: a registration id is/],
  ])('refuses %s, naming the field', (_name, doc, message) => {
    expect(() => parseConfig(doc, 'test')).toThrow(message);
  });

  it('the keys never show in what diagnostics print', () => {
    const shown = JSON.stringify(redact({ provisioning: { ...dps, symmetricKey: 'SECRET-1', groupKey: 'SECRET-2' } }));
    expect(shown).not.toMatch(/SECRET/);
    expect(shown).toContain('gw-1');
  });

  it('the reprovision method: 202 with the current hub (the link is dropped after the answer), 409 without DPS', async () => {
    let reconnects = 0;
    const reasons: string[] = [];
    const handler = reprovisionHandler({
      request: (reason) => {
        reasons.push(reason);
        return { idScope: '0ne0001', registrationId: 'gw-1', globalEndpoint: 'g', attestation: 'symmetricKey', assignedHub: 'hub-a', registrations: 0 };
      },
      reconnect: () => reconnects++,
    });
    const r = await handler({ reason: 'moving plant' });
    expect(r).toMatchObject({ status: 202, payload: { accepted: true, registrationId: 'gw-1', currentHub: 'hub-a' } });
    expect(reasons).toEqual(['reprovision method: moving plant']);
    expect(reconnects).toBe(0);
    r.after?.();
    expect(reconnects).toBe(1);
    const none = await reprovisionHandler({ request: () => undefined, reconnect: () => reconnects++ })(undefined);
    expect(none).toMatchObject({ status: 409, payload: { error: { code: 'EDGE_USAGE' } } });
    expect(none.after).toBeUndefined();
  });
});
