import { afterEach, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openMessageLogReader, type IotHubEmulator } from '../../cloud/iothub/index.js';
import { decodeWireMessage } from '../../agent/core/wire.js';
import { deriveDeviceKey } from '../../cloud/iothub/dps/index.js';
import type { ProvisioningStatus } from '../../agent/transport/hub-target.js';
import type { StatusReport } from '../../agent/diagnostics/handlers/status.js';
import { runField, untilStatus, type FieldRun } from '../fault/support/field-agent.js';
import { recordsOf, untilTelemetry } from '../support/hub.js';
import { deviceCertFrom, startDpsFleet, testCa, type DpsFleet } from '../support/dps.js';
import { selfSignedDeviceCert } from '../agent/transport/self-signed.js';
import { tempDir } from '../support/tmp.js';
import { request } from '../../agent/diagnostics/client.js';
import { runCli } from '../support/cli.js';

/** The real `edge-agent run` with nothing but `provisioning` to find its hub, against the DPS emulator and two hubs. */
describe('zero-touch provisioning (DPS) with the real agent process', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function site(fleet: DpsFleet, attestation: Record<string, unknown>, registrationId: string, extra: Record<string, unknown> = {}): Promise<{ configPath: string; socketPath: string; dataDir: string; dir: string; run: () => Promise<FieldRun> }> {
    const dir = tempDir('dps-site');
    cleanups.push(dir.cleanup);
    const caFile = join(dir.path, 'ca.pem');
    writeFileSync(caFile, fleet.caPem);
    const socketPath = join(dir.path, 'diag.sock');
    const dataDir = join(dir.path, 'data');
    const configPath = join(dir.path, 'config.json');
    writeFileSync(
      configPath,
      JSON.stringify({
        provisioning: { idScope: fleet.dps.idScope, registrationId, globalEndpoint: fleet.dps.host, caFile, timeoutMs: 20_000, ...attestation, ...extra },
        dataDir,
        forwarding: { lingerMs: 20, retryInitialMs: 50, retryMaxMs: 200, maxMessageBytes: 16 * 1024 },
        connection: { reconnectInitialMs: 50, reconnectMaxMs: 300 },
        drivers: [{ type: 'synthetic', name: 'sim', source: 'line-1', intervalMs: 10, points: [{ name: 'p0' }, { name: 'p1' }] }],
        diagnostics: { socketPath },
      }),
    );
    return {
      configPath,
      socketPath,
      dataDir,
      dir: dir.path,
      run: async () => {
        const r = await runField(configPath, socketPath);
        cleanups.push(async () => void (await r.stop().catch(() => undefined)));
        return r;
      },
    };
  }

  const provisioningOf = (s: StatusReport): ProvisioningStatus => (s.connection as { provisioning?: ProvisioningStatus }).provisioning!;
  const seqsIn = async (hub: IotHubEmulator, deviceId: string): Promise<Set<number>> => new Set((await recordsOf(hub, deviceId)).map((r) => r.seq));
  const untilSeqOnHub = (hub: IotHubEmulator, deviceId: string, atLeast: number): Promise<void> => untilTelemetry(hub, async () => [...(await seqsIn(hub, deviceId))].some((s) => s >= atLeast));

  it('registers on first boot, reuses the assignment on restart, moves hubs by method and by a revoked key; every seq arrives', async () => {
    const fleet = await startDpsFleet(2);
    cleanups.push(fleet.close);
    const [hubA, hubB] = fleet.hubs as [IotHubEmulator, IotHubEmulator];
    const key = randomBytes(32).toString('base64');
    await fleet.dps.enrollments.enrollDevice({ registrationId: 'gw-1', attestation: { type: 'symmetricKey', primaryKey: key } }, Date.now());
    const s = await site(fleet, { symmetricKey: key }, 'gw-1');

    // First boot: registers, lands on the first hub, sends.
    let run = await s.run();
    await untilSeqOnHub(hubA, 'gw-1', 1);
    const first = provisioningOf(await untilStatus(run, (st) => provisioningOf(st)?.assignedHub !== undefined));
    expect(first).toMatchObject({ registrationId: 'gw-1', idScope: fleet.dps.idScope, assignedHub: hubA.hostName, deviceId: 'gw-1', registrations: 1, last: { reason: 'first boot', substatus: 'initialAssignment' } });
    expect(fleet.dps.connections('gw-1')).toBe(1);
    const firstStop = await run.stop();

    // Restart: straight to the stored hub, DPS not contacted.
    run = await s.run();
    await untilSeqOnHub(hubA, 'gw-1', firstStop.stopped.nextSeq);
    expect(provisioningOf(await run.status())).toMatchObject({ assignedHub: hubA.hostName, registrations: 0, last: { reason: 'first boot' } });
    expect(fleet.dps.connections('gw-1')).toBe(1);
    expect(fleet.dps.registrations.get('gw-1')?.count).toBe(1);

    // The `reprovision` method: DPS moves the device to the other hub; sending goes on there.
    fleet.dps.faults.moveOnReprovision = true;
    const answer = await hubA.invokeMethod('gw-1', 'reprovision', { reason: 'test' }, { responseTimeoutMs: 10_000 });
    expect(answer).toMatchObject({ status: 202, payload: { accepted: true, currentHub: hubA.hostName } });
    await untilSeqOnHub(hubB, 'gw-1', 1);
    expect(provisioningOf(await run.status())).toMatchObject({ assignedHub: hubB.hostName, registrations: 1, last: { reason: 'reprovision method: test', substatus: 'deviceDataMigrated' } });

    // A revoked key: the hub refuses the credentials it took before, so the agent asks DPS again (and is moved back).
    const onB = Math.max(...(await seqsIn(hubB, 'gw-1')));
    await hubB.removeDevice('gw-1');
    const beforeRevoke = fleet.dps.registrations.get('gw-1')!.count;
    await untilTelemetry(hubA, async () => [...(await seqsIn(hubA, 'gw-1'))].some((q) => q > onB));
    expect(provisioningOf(await run.status())).toMatchObject({ assignedHub: hubA.hostName, last: { reason: 'the hub refused the credentials' } });
    expect(fleet.dps.registrations.get('gw-1')!.count).toBe(beforeRevoke + 1);
    const lastStop = await run.stop();

    // What was still buffered at the stop goes out on the next boot (stored hub, no DPS); then every seq is in one hub or the other.
    const connectionsBefore = fleet.dps.connections('gw-1');
    run = await s.run();
    const last = lastStop.stopped.nextSeq - 1;
    const union = async (): Promise<Set<number>> => new Set([...(await seqsIn(hubA, 'gw-1')), ...(await seqsIn(hubB, 'gw-1'))]);
    await untilTelemetry(hubA, async () => {
      const all = await union();
      for (let q = 1; q <= last; q++) if (!all.has(q)) return false;
      return true;
    });
    expect(fleet.dps.connections('gw-1')).toBe(connectionsBefore);
    // No seq was issued twice: each carries one record text, whichever hub it reached.
    const texts = new Map<number, Set<string>>();
    for (const r of [...(await recordsOf(hubA, 'gw-1')), ...(await recordsOf(hubB, 'gw-1'))]) texts.set(r.seq, (texts.get(r.seq) ?? new Set()).add(JSON.stringify(r)));
    expect([...texts.values()].filter((t) => t.size > 1)).toEqual([]);
    const onHubB = await seqsIn(hubB, 'gw-1');
    expect(onHubB.size).toBeGreaterThan(0);
    expect((await seqsIn(hubA, 'gw-1')).size).toBeGreaterThan(onHubB.size);
    await run.stop();
  }, 90_000);

  it('a hub that is gone (connection refused for hubGoneAfterMs) sends the agent back to DPS, which assigns the other hub', async () => {
    const fleet = await startDpsFleet(2);
    cleanups.push(fleet.close);
    const [hubA, hubB] = fleet.hubs as [IotHubEmulator, IotHubEmulator];
    const key = randomBytes(32).toString('base64');
    await fleet.dps.enrollments.enrollDevice({ registrationId: 'gw-gone', attestation: { type: 'symmetricKey', primaryKey: key } }, Date.now());
    const s = await site(fleet, { symmetricKey: key }, 'gw-gone', { hubGoneAfterMs: 1000, minIntervalMs: 0 });
    const run = await s.run();
    await untilSeqOnHub(hubA, 'gw-gone', 1);
    fleet.dps.faults.moveOnReprovision = true;
    const stoppedAt = Date.now();
    await hubA.stop();
    const reader = await openMessageLogReader(hubA.dataDir);
    const seqsOnA = new Set<number>();
    for (let part = 0; part < reader.partitionCount; part++) {
      for (const e of await reader.read(part, 0, Number.MAX_SAFE_INTEGER)) if (e.deviceId === 'gw-gone') for (const r of decodeWireMessage(e.body, e.systemProperties['content-encoding']).records) seqsOnA.add(r.seq);
    }
    await reader.close();
    const sentToA = Math.max(...seqsOnA);
    await untilSeqOnHub(hubB, 'gw-gone', 1);
    // Not before the rule's second of refused connects.
    expect(Date.now() - stoppedAt).toBeGreaterThanOrEqual(1000);
    const st = provisioningOf(await run.status());
    expect(st).toMatchObject({ assignedHub: hubB.hostName, registrations: 2 }); // first boot, then the move
    expect(st.last?.reason).toMatch(/^the hub has been unreachable for \d+ s$/);
    // Nothing lost across the move: hub B's first seq follows hub A's last acknowledged ones without a gap.
    // Classes go out of seq order (an event at once, readings after their linger), so the highest seq
    // arriving says nothing of the ones below it: wait for the whole run, at most 20 s, then name any gap.
    const upTo = sentToA + 5;
    const missing = async (): Promise<number[]> => {
      const onB = await seqsIn(hubB, 'gw-gone');
      return Array.from({ length: upTo }, (_, i) => i + 1).filter((q) => !seqsOnA.has(q) && !onB.has(q));
    };
    let bound: NodeJS.Timeout | undefined;
    await Promise.race([untilTelemetry(hubB, async () => (await missing()).length === 0), new Promise<void>((resolve) => (bound = setTimeout(resolve, 20_000)))]);
    clearTimeout(bound);
    expect(await missing()).toEqual([]);
    await run.stop();
  }, 60_000);

  it('a group enrollment member boots with only the group key (its device key derived), waits out DPS throttling, sends, and boots again with DPS down', async () => {
    const fleet = await startDpsFleet(2);
    cleanups.push(fleet.close);
    const groupKey = randomBytes(32).toString('base64');
    await fleet.dps.enrollments.enrollGroup({ groupId: 'plant-7', attestation: { type: 'symmetricKey', primaryKey: groupKey } }, Date.now());
    const s = await site(fleet, { groupKey }, 'gw-group-3');
    // DPS throttles the first two attempts (429, retry-after): the SDK waits them out.
    fleet.dps.faults.throttle(2, 0.2);
    const throttled: string[] = [];
    fleet.dps.on('refused', (id, reason) => throttled.push(`${id} ${reason}`));
    const run = await s.run();
    const hub = fleet.hubs[0]!;
    await untilSeqOnHub(hub, 'gw-group-3', 1);
    expect(fleet.dps.registrations.get('gw-group-3')).toMatchObject({ enrollment: 'group:plant-7', assignedHub: hub.hostName, count: 1 });
    expect(throttled).toEqual(['gw-group-3 fault: 429 throttled', 'gw-group-3 fault: 429 throttled']);
    expect(hub.getDevice('gw-group-3')?.primaryKey).toBe(deriveDeviceKey(groupKey, 'gw-group-3'));
    expect(provisioningOf(await run.status())).toMatchObject({ attestation: 'groupKey', assignedHub: hub.hostName });
    // What a technician reads on the box.
    const screen = await runCli(['status', '--socket', s.socketPath]);
    expect(screen.stdout).toMatch(new RegExp(`provisioning +DPS ${fleet.dps.idScope}/gw-group-3 → ${hub.hostName} \\(first boot, `));
    // The config view never shows the group key.
    const shown = JSON.stringify(await request(s.socketPath, 'config'));
    expect(shown).toContain('gw-group-3');
    expect(shown).not.toContain(groupKey);
    const stopped = await run.stop();

    // With DPS gone altogether, the next boot still reaches its hub from the stored assignment.
    await fleet.dps.stop();
    const again = await s.run();
    await untilSeqOnHub(hub, 'gw-group-3', stopped.stopped.nextSeq);
    expect(provisioningOf(await again.status())).toMatchObject({ assignedHub: hub.hostName, registrations: 0 });
    await again.stop();
  });

  it('X.509: a first boot while DPS refuses buffers, then registers with its certificate and uses it at the hub', async () => {
    const fleet = await startDpsFleet(1);
    cleanups.push(fleet.close);
    const cert = selfSignedDeviceCert('gw-x509');
    await fleet.dps.enrollments.enrollDevice({ registrationId: 'gw-x509', attestation: { type: 'x509', thumbprint: cert.thumbprint } }, Date.now());
    const dir = tempDir('dps-cert');
    cleanups.push(dir.cleanup);
    const certFile = join(dir.path, 'device.pem');
    const keyFile = join(dir.path, 'device.key');
    writeFileSync(certFile, cert.cert);
    writeFileSync(keyFile, cert.key, { mode: 0o600 });
    const s = await site(fleet, { x509: { certFile, keyFile } }, 'gw-x509');
    // A first boot while DPS refuses: nothing to connect to yet, readings are buffered, DPS is asked again with backoff.
    fleet.dps.faults.refuse(401, 'enrollment disabled');
    const run = await s.run();
    const waiting = await untilStatus(run, (st) => st.connection.lastError?.code === 'EDGE_PROVISIONING_REFUSED' && st.buffer.unsentRecords > 0);
    expect(provisioningOf(waiting)).toMatchObject({ pending: 'first boot', registrations: 0, lastError: { code: 'EDGE_PROVISIONING_REFUSED' } });
    fleet.dps.faults.accept();
    const hub = fleet.hubs[0]!;
    await untilSeqOnHub(hub, 'gw-x509', 1);
    // What was read before the hub was known went out too, from seq 1 on.
    await untilTelemetry(hub, async () => {
      const got = await seqsIn(hub, 'gw-x509');
      for (let q = 1; q <= waiting.buffer.nextSeq - 1; q++) if (!got.has(q)) return false;
      return true;
    });
    const st = await run.status();
    expect(st.connection).toMatchObject({ state: 'connected', auth: 'x509' });
    expect(provisioningOf(st)).toMatchObject({ attestation: 'x509', deviceId: 'gw-x509', registrations: 1 });
    await run.stop();
  });

  it('X.509 group: a certificate the group CA issued registers (CN = registration id) and connects to the hub with its chain', async () => {
    const fleet = await startDpsFleet(1);
    cleanups.push(fleet.close);
    const ca = testCa();
    await fleet.dps.enrollments.enrollGroup({ groupId: 'x509-line', attestation: { type: 'x509CA', caPem: ca.cert } }, Date.now());
    const cert = deviceCertFrom(ca, 'gw-chain');
    const dir = tempDir('dps-chain');
    cleanups.push(dir.cleanup);
    const certFile = join(dir.path, 'device.pem');
    const keyFile = join(dir.path, 'device.key');
    writeFileSync(certFile, cert.cert);
    writeFileSync(keyFile, cert.key, { mode: 0o600 });
    const s = await site(fleet, { x509: { certFile, keyFile } }, 'gw-chain');
    const run = await s.run();
    const hub = fleet.hubs[0]!;
    await untilSeqOnHub(hub, 'gw-chain', 1);
    expect(fleet.dps.registrations.get('gw-chain')).toMatchObject({ enrollment: 'group:x509-line', deviceId: 'gw-chain' });
    expect(hub.getDevice('gw-chain')?.x509Thumbprint).toBe(cert.thumbprint.replace(/:/g, ''));
    await run.stop();
  });
});
