import { afterEach, describe, expect, it } from 'vitest';
import deviceSdk from 'azure-iot-device';
import mqttSdk from 'azure-iot-device-mqtt';
import { registerWithDps, type DpsRequest } from '../../../../agent/transport/provisioning/dps-register.js';
import { deriveDeviceKey } from '../../../../cloud/iothub/dps/index.js';
import { selfSignedDeviceCert } from '../../../agent/transport/self-signed.js';
import { deviceCertFrom, startDpsFleet, testCa, type DpsFleet } from '../../../support/dps.js';
import { randomBytes } from 'node:crypto';

const realTimer = (fn: () => void, ms: number): (() => void) => {
  const t = setTimeout(fn, ms);
  return () => clearTimeout(t);
};

describe('DPS emulator through the provisioning SDK (MQTT over TLS)', () => {
  let fleet: DpsFleet;
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });
  const start = async (): Promise<DpsFleet> => {
    fleet = await startDpsFleet(2);
    cleanups.push(fleet.close);
    return fleet;
  };
  const request = (registrationId: string, credentials: DpsRequest['credentials']): DpsRequest => ({ globalEndpoint: fleet.dps.host, idScope: fleet.dps.idScope, registrationId, credentials, ca: fleet.caPem, timeoutMs: 20_000 });

  it('assigns an individual symmetric-key enrollment to a hub that then accepts the device with that key', async () => {
    await start();
    const key = randomBytes(32).toString('base64');
    await fleet.dps.enrollments.enrollDevice({ registrationId: 'gw-1', attestation: { type: 'symmetricKey', primaryKey: key } }, Date.now());
    const a = await registerWithDps(request('gw-1', { symmetricKey: key }), realTimer);
    expect(a).toMatchObject({ assignedHub: fleet.hubs[0]!.hostName, deviceId: 'gw-1', substatus: 'initialAssignment' });
    expect(fleet.dps.registrations.get('gw-1')).toMatchObject({ count: 1, enrollment: 'individual:gw-1' });

    const client = deviceSdk.Client.fromConnectionString(`HostName=${a.assignedHub};DeviceId=gw-1;SharedAccessKey=${key}`, mqttSdk.Mqtt);
    await client.setOptions({ ca: fleet.caPem });
    await client.open();
    cleanups.push(async () => void (await client.close()));
    expect(fleet.hubs[0]!.isConnected('gw-1')).toBe(true);
  });

  it('allocates evenly across hubs, and moves a device to the next hub on re-registration when told to', async () => {
    await start();
    const groupKey = randomBytes(32).toString('base64');
    await fleet.dps.enrollments.enrollGroup({ groupId: 'plant', attestation: { type: 'symmetricKey', primaryKey: groupKey } }, Date.now());
    const a = await registerWithDps(request('gw-a', { symmetricKey: deriveDeviceKey(groupKey, 'gw-a') }), realTimer);
    const b = await registerWithDps(request('gw-b', { symmetricKey: deriveDeviceKey(groupKey, 'gw-b') }), realTimer);
    expect([a.assignedHub, b.assignedHub]).toEqual([fleet.hubs[0]!.hostName, fleet.hubs[1]!.hostName]);
    // Sticky: asking again keeps the hub.
    expect((await registerWithDps(request('gw-a', { symmetricKey: deriveDeviceKey(groupKey, 'gw-a') }), realTimer)).assignedHub).toBe(fleet.hubs[0]!.hostName);
    fleet.dps.faults.moveOnReprovision = true;
    const moved = await registerWithDps(request('gw-a', { symmetricKey: deriveDeviceKey(groupKey, 'gw-a') }), realTimer);
    expect(moved).toMatchObject({ assignedHub: fleet.hubs[1]!.hostName, substatus: 'deviceDataMigrated' });
    expect(fleet.dps.registrations.get('gw-a')).toMatchObject({ count: 3, enrollment: 'group:plant' });
    expect(fleet.hubs[1]!.getDevice('gw-a')?.primaryKey).toBe(deriveDeviceKey(groupKey, 'gw-a'));
  });

  it('refuses a wrong key, an unknown registration and a refusal fault; waits out a 429 with retry-after', async () => {
    await start();
    const key = randomBytes(32).toString('base64');
    await fleet.dps.enrollments.enrollDevice({ registrationId: 'gw-1', attestation: { type: 'symmetricKey', primaryKey: key } }, Date.now());
    await expect(registerWithDps(request('gw-1', { symmetricKey: randomBytes(32).toString('base64') }), realTimer)).rejects.toMatchObject({ code: 'EDGE_PROVISIONING_REFUSED' });
    await expect(registerWithDps(request('nobody', { symmetricKey: key }), realTimer)).rejects.toMatchObject({ code: 'EDGE_PROVISIONING_REFUSED' });
    fleet.dps.faults.refuse(401);
    await expect(registerWithDps(request('gw-1', { symmetricKey: key }), realTimer)).rejects.toMatchObject({ code: 'EDGE_PROVISIONING_REFUSED' });
    fleet.dps.faults.accept();
    fleet.dps.faults.throttle(2, 0.2);
    const refusals: string[] = [];
    fleet.dps.on('refused', (_id, reason) => refusals.push(reason));
    const started = Date.now();
    const a = await registerWithDps(request('gw-1', { symmetricKey: key }), realTimer);
    expect(a.deviceId).toBe('gw-1');
    expect(refusals).toEqual(['fault: 429 throttled', 'fault: 429 throttled']);
    // The SDK waited the retry-after twice before asking again.
    expect(Date.now() - started).toBeGreaterThanOrEqual(400);
    expect(fleet.dps.registrations.get('gw-1')?.count).toBe(1);
  });

  it('X.509: an individual enrollment by thumbprint and a group by CA; the hub then takes the same certificate', async () => {
    await start();
    const own = selfSignedDeviceCert('gw-x');
    await fleet.dps.enrollments.enrollDevice({ registrationId: 'gw-x', attestation: { type: 'x509', thumbprint: own.thumbprint } }, Date.now());
    const a = await registerWithDps(request('gw-x', { x509: { cert: own.cert, key: own.key } }), realTimer);
    expect(a.deviceId).toBe('gw-x');

    const ca = testCa();
    await fleet.dps.enrollments.enrollGroup({ groupId: 'certs', attestation: { type: 'x509CA', caPem: ca.cert } }, Date.now());
    const member = deviceCertFrom(ca, 'gw-y');
    const b = await registerWithDps(request('gw-y', { x509: { cert: member.cert, key: member.key } }), realTimer);
    expect(b).toMatchObject({ deviceId: 'gw-y', assignedHub: fleet.hubs[1]!.hostName });
    // A certificate from another CA, or whose CN is not the registration id, is refused.
    const stranger = deviceCertFrom(testCa('other-ca'), 'gw-z');
    await expect(registerWithDps(request('gw-z', { x509: { cert: stranger.cert, key: stranger.key } }), realTimer)).rejects.toMatchObject({ code: 'EDGE_PROVISIONING_REFUSED' });
    await expect(registerWithDps(request('gw-q', { x509: { cert: member.cert, key: member.key } }), realTimer)).rejects.toMatchObject({ code: 'EDGE_PROVISIONING_REFUSED' });

    const client = deviceSdk.Client.fromConnectionString(`HostName=${b.assignedHub};DeviceId=gw-y;x509=true`, mqttSdk.Mqtt);
    await client.setOptions({ ca: fleet.caPem, cert: member.cert, key: member.key });
    await client.open();
    cleanups.push(async () => void (await client.close()));
    expect(fleet.hubs[1]!.isConnected('gw-y')).toBe(true);
  });
});
