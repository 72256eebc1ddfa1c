import { afterEach, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { ManualClock } from '../../../agent/core/clock.js';
import { EdgeError } from '../../../agent/core/errors.js';
import { silentLogger } from '../../../agent/core/logger.js';
import { Provisioner, type ProvisionerOptions } from '../../../agent/transport/provisioning/provisioner.js';
import { assignmentPath, saveAssignment } from '../../../agent/transport/provisioning/assignment-file.js';
import { deriveDeviceKey } from '../../../agent/transport/provisioning/derive-key.js';
import { deriveDeviceKey as dpsDerive } from '../../../cloud/iothub/dps/index.js';
import { startDpsFleet, type DpsFleet } from '../../support/dps.js';
import { tempDir } from '../../support/tmp.js';

const MIN = 60_000;

describe('Provisioner: when to ask DPS, and when not', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function setup(opts: { enroll?: boolean; endpoint?: string } = {}): Promise<{ fleet: DpsFleet; options: ProvisionerOptions; clock: ManualClock; key: string }> {
    const fleet = await startDpsFleet(2);
    cleanups.push(fleet.close);
    const key = randomBytes(32).toString('base64');
    if (opts.enroll !== false) await fleet.dps.enrollments.enrollDevice({ registrationId: 'gw-p', attestation: { type: 'symmetricKey', primaryKey: key } }, Date.now());
    const dir = tempDir('provisioner');
    cleanups.push(dir.cleanup);
    const clock = new ManualClock(Date.UTC(2026, 11, 1));
    const options: ProvisionerOptions = {
      dataDir: dir.path,
      idScope: fleet.dps.idScope,
      registrationId: 'gw-p',
      globalEndpoint: opts.endpoint ?? fleet.dps.host,
      attestation: 'symmetricKey',
      credentials: { symmetricKey: key },
      ca: fleet.caPem,
      timeoutMs: 20_000,
      hubGoneAfterMs: 10 * MIN,
      minIntervalMs: 5 * MIN,
      clock,
      logger: silentLogger,
    };
    return { fleet, options, clock, key };
  }

  const refused = new EdgeError('EDGE_TRANSPORT_UNAUTHORIZED', 'IoT Hub refused this device’s credentials: Connection refused: Not authorized');
  const gone = new EdgeError('EDGE_TRANSPORT_UNAVAILABLE', 'IoT Hub is unavailable or unreachable: getaddrinfo ENOTFOUND myhub.azure-devices.net');
  const dnsDown = new EdgeError('EDGE_TRANSPORT_UNAVAILABLE', 'IoT Hub is unavailable or unreachable: getaddrinfo EAI_AGAIN myhub.azure-devices.net');
  const timeout = new EdgeError('EDGE_TRANSPORT_TIMEOUT', 'IoT Hub did not answer the connect within 30000 ms');

  it('first boot registers and stores the assignment atomically; a later boot uses it without DPS', async () => {
    const { fleet, options, key } = await setup();
    const p = await Provisioner.open(options);
    expect(p.status()).toMatchObject({ pending: 'first boot', registrations: 0 });
    const target = await p.resolve();
    expect(target.connectionString).toBe(`HostName=${fleet.hubs[0]!.hostName};DeviceId=gw-p;SharedAccessKey=${key}`);
    expect(JSON.parse(readFileSync(assignmentPath(options.dataDir), 'utf8'))).toMatchObject({ assignedHub: fleet.hubs[0]!.hostName, deviceId: 'gw-p', reason: 'first boot', idScope: fleet.dps.idScope });

    const again = await Provisioner.open(options);
    expect(again.status()).toMatchObject({ assignedHub: fleet.hubs[0]!.hostName, registrations: 0 });
    expect(again.status().pending).toBeUndefined();
    expect((await again.resolve()).connectionString).toBe(target.connectionString);
    expect(fleet.dps.connections('gw-p')).toBe(1);
  });

  it('a stored assignment of another registration id, or a torn file, is not used', async () => {
    const { options, clock } = await setup();
    await saveAssignment(options.dataDir, { version: 1, idScope: options.idScope, registrationId: 'someone-else', assignedHub: 'x:1', deviceId: 'someone-else', at: clock.now(), reason: 'first boot' });
    expect((await Provisioner.open(options)).status()).toMatchObject({ pending: 'first boot' });
    writeFileSync(assignmentPath(options.dataDir), '{"version":1,"assignedHub":');
    expect((await Provisioner.open(options)).status()).toMatchObject({ pending: 'first boot' });
  });

  it('the hub refusing credentials it had accepted registers again at once; a fresh assignment refused waits minIntervalMs', async () => {
    const { options, clock } = await setup();
    const p = await Provisioner.open(options);
    await p.resolve();
    // Fresh from DPS and never accepted: not again right away (DPS would hand out the same).
    p.connectFailed('unauthorized', refused);
    expect(p.status().pending).toBeUndefined();
    clock.advance(5 * MIN);
    p.connectFailed('unauthorized', refused);
    expect(p.status().pending).toBe('the hub refused the credentials');
    await p.resolve();
    expect(p.status()).toMatchObject({ registrations: 2, last: { reason: 'the hub refused the credentials' } });
    // Accepted once, then refused: at once.
    p.connected();
    p.connectFailed('unauthorized', refused);
    expect(p.status().pending).toBe('the hub refused the credentials');
  });

  it('the hub is gone only after hubGoneAfterMs of nothing but ENOTFOUND/ECONNREFUSED; timeouts, EAI_AGAIN and a success restart the clock', async () => {
    const { options, clock } = await setup();
    await (await Provisioner.open(options)).resolve();
    const p = await Provisioner.open(options); // from the file: this run has not registered
    p.connectFailed('unavailable', gone);
    clock.advance(9 * MIN);
    p.connectFailed('unavailable', gone);
    expect(p.status().pending).toBeUndefined();
    p.connectFailed('timeout', timeout); // the hub (or the network) answers slowly: an outage, not a missing hub
    clock.advance(2 * MIN);
    p.connectFailed('unavailable', gone);
    expect(p.status().pending).toBeUndefined();
    clock.advance(9 * MIN);
    p.connectFailed('unavailable', dnsDown);
    expect(p.status().pending).toBeUndefined();
    p.connectFailed('unavailable', gone);
    clock.advance(6 * MIN);
    p.connected();
    clock.advance(6 * MIN);
    p.connectFailed('unavailable', gone);
    expect(p.status().pending).toBeUndefined();
    clock.advance(10 * MIN);
    p.connectFailed('unavailable', gone);
    expect(p.status().pending).toBe('the hub has been unreachable for 600 s');
  });

  it('DPS unreachable or refusing: the first boot fails (and retries); with a stored hub the agent keeps it, without hammering DPS', async () => {
    const { fleet, options, clock } = await setup();
    const down = await Provisioner.open({ ...options, globalEndpoint: '127.0.0.1:1' });
    await expect(down.resolve()).rejects.toMatchObject({ code: 'EDGE_PROVISIONING_UNAVAILABLE' });
    expect(down.status()).toMatchObject({ pending: 'first boot', lastError: { code: 'EDGE_PROVISIONING_UNAVAILABLE' } });

    const p = await Provisioner.open(options);
    const first = await p.resolve();
    fleet.dps.faults.refuse(401);
    p.request('reprovision method');
    expect(await p.resolve()).toEqual(first);
    expect(p.status()).toMatchObject({ assignedHub: fleet.hubs[0]!.hostName, registrations: 1, lastError: { code: 'EDGE_PROVISIONING_REFUSED' } });
    expect(p.status().pending).toBeUndefined();
    // The hub refuses too (it had accepted before): one attempt, then DPS is not asked again for minIntervalMs.
    p.connected();
    p.connectFailed('unauthorized', refused);
    expect(p.status().pending).toBe('the hub refused the credentials');
    await p.resolve();
    expect(fleet.dps.connections('gw-p')).toBe(3);
    p.connectFailed('unauthorized', refused);
    expect(p.status().pending).toBeUndefined();
    clock.advance(5 * MIN);
    fleet.dps.faults.accept();
    p.connectFailed('unauthorized', refused);
    await p.resolve();
    expect(p.status()).toMatchObject({ registrations: 2, last: { reason: 'the hub refused the credentials' } });
    expect(p.status().lastError).toBeUndefined();
  });

  it('derives a group member key exactly as DPS does', () => {
    const group = randomBytes(64).toString('base64');
    expect(deriveDeviceKey(group, 'gw-17')).toBe(dpsDerive(group, 'gw-17'));
    expect(deriveDeviceKey(group, 'gw-17')).not.toBe(deriveDeviceKey(group, 'gw-18'));
    // Against an independent implementation: `printf device-1 | openssl dgst -sha256 -hmac key -binary | base64` ("a2V5" is base64 of "key").
    expect(deriveDeviceKey('a2V5', 'device-1')).toBe('oEJb2035sqmsuTIUsQRaimLKqMw2StmImYCnoOw/xQc=');
  });
});
