import { randomBytes, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { untilShutdownSignal } from '../shutdown.js';
import { usageError } from '../exit.js';

/**
 * `edge-agent hub dps …`: the local Device Provisioning Service. `start` runs DPS with N hubs in
 * one process (DPS creates the devices it assigns in their registries); `enroll`, `enroll-group`,
 * `enrollments` and `registrations` work on the files, so they also work beside a running DPS
 * (it reads the enrollments again at every registration).
 *
 * Layout of `--data-dir`: `dps/` (enrollments.json, registrations.json, tls/) and `hub-0/`,
 * `hub-1/`, … (each an ordinary hub data dir: `edge-agent hub read|invoke --data-dir DIR/hub-0`).
 */
const DEFAULT_DIR = join('.data', 'fleet');

const dps = () => import('../../../cloud/iothub/dps/index.js');

interface DirFlags {
  dataDir: string;
}

const dirOption = (cmd: Command): Command => cmd.option('--data-dir <dir>', 'the fleet\'s data directory (dps/ and hub-N/ inside)', DEFAULT_DIR);

function whole(name: string, v: string, min: number): number {
  if (!/^\d+$/.test(v.trim()) || Number(v) < min) throw usageError(`${name} must be a whole number ≥ ${min}, not '${v}'`);
  return Number(v);
}

export function registerHubDps(hub: Command): void {
  const cmd = hub.command('dps').description('local Device Provisioning Service: run it with its hubs, enroll devices, list registrations');

  dirOption(cmd.command('start'))
    .description('run DPS and --hubs hub emulators (MQTT over TLS on loopback, one CA) until Ctrl-C')
    .option('--hubs <n>', 'hubs to allocate devices to', '2')
    .option('--port <n>', 'DPS port (0 = any free port)', '0')
    .option('--id-scope <scope>', 'the ID scope devices use', '0ne00000001')
    .action(async (flags: DirFlags & { hubs: string; port: string; idScope: string }) => {
      const count = whole('--hubs', flags.hubs, 1);
      const [{ DpsEmulator }, { IotHubEmulator, loadTlsMaterial }] = await Promise.all([dps(), import('../../../cloud/iothub/index.js')]);
      const hubs = [await IotHubEmulator.start({ dataDir: join(flags.dataDir, 'hub-0'), servicePort: 0 })];
      const tls = (await loadTlsMaterial(hubs[0]!.dataDir))!;
      for (let i = 1; i < count; i++) hubs.push(await IotHubEmulator.start({ dataDir: join(flags.dataDir, `hub-${i}`), servicePort: 0, tls }));
      const service = await DpsEmulator.start({ dataDir: join(flags.dataDir, 'dps'), hubs, tls, idScope: flags.idScope, port: whole('--port', flags.port, 0) });
      process.stdout.write(
        `DPS: globalEndpoint ${service.host}, idScope ${service.idScope}, CA ${join(hubs[0]!.dataDir, 'tls', 'ca.pem')}\n` +
          hubs.map((h, i) => `hub-${i}: devices mqtts://${h.hostName}, service http://127.0.0.1:${h.servicePort}, data ${h.dataDir}\n`).join('') +
          '(Ctrl-C stops)\n',
      );
      await untilShutdownSignal();
      await service.stop();
      for (const h of hubs) await h.stop();
      process.stdout.write('DPS and hubs stopped\n');
    });

  dirOption(cmd.command('enroll <registrationId>'))
    .description('an individual enrollment: a symmetric key (printed; generated unless --key) or an X.509 thumbprint')
    .option('--key <base64>', 'the device key (default: 32 random bytes)')
    .option('--cert-file <pem>', 'X.509 attestation: the device\'s self-signed certificate (its SHA-256 thumbprint is enrolled)')
    .option('--device-id <id>', 'the IoT Hub device id to create (default: the registration id)')
    .action(async (registrationId: string, flags: DirFlags & { key?: string; certFile?: string; deviceId?: string }) => {
      if (flags.key && flags.certFile) throw usageError('give --key or --cert-file, not both');
      const { EnrollmentStore } = await dps();
      const attestation = flags.certFile
        ? { type: 'x509' as const, thumbprint: new X509Certificate(readFileSync(flags.certFile)).fingerprint256 }
        : { type: 'symmetricKey' as const, primaryKey: flags.key ?? randomBytes(32).toString('base64') };
      await new EnrollmentStore(join(flags.dataDir, 'dps')).enrollDevice({ registrationId, attestation, ...(flags.deviceId ? { deviceId: flags.deviceId } : {}) }, Date.now());
      process.stdout.write((attestation.type === 'symmetricKey' ? attestation.primaryKey : `x509 ${attestation.thumbprint}`) + '\n');
    });

  dirOption(cmd.command('enroll-group <groupId>'))
    .description('an enrollment group: a group key (printed; members use keys derived from it) or a CA certificate')
    .option('--key <base64>', 'the group key (default: 64 random bytes)')
    .option('--ca-file <pem>', 'X.509 attestation: members\' certificates must be issued by this CA')
    .action(async (groupId: string, flags: DirFlags & { key?: string; caFile?: string }) => {
      if (flags.key && flags.caFile) throw usageError('give --key or --ca-file, not both');
      const { EnrollmentStore } = await dps();
      const attestation = flags.caFile ? { type: 'x509CA' as const, caPem: readFileSync(flags.caFile, 'utf8') } : { type: 'symmetricKey' as const, primaryKey: flags.key ?? randomBytes(64).toString('base64') };
      await new EnrollmentStore(join(flags.dataDir, 'dps')).enrollGroup({ groupId, attestation }, Date.now());
      process.stdout.write((attestation.type === 'symmetricKey' ? attestation.primaryKey : `x509 CA ${groupId}`) + '\n');
    });

  cmd
    .command('derive-key <groupKey> <registrationId>')
    .description('the device key of a group member: base64 HMAC-SHA256 of the registration id under the group key')
    .action(async (groupKey: string, registrationId: string) => {
      const { deriveDeviceKey } = await dps();
      process.stdout.write(deriveDeviceKey(groupKey, registrationId) + '\n');
    });

  dirOption(cmd.command('enrollments'))
    .description('list enrollments (keys are not printed)')
    .option('--json', 'one JSON document, keys included')
    .action(async (flags: DirFlags & { json?: boolean }) => {
      const { EnrollmentStore } = await dps();
      const doc = await new EnrollmentStore(join(flags.dataDir, 'dps')).read();
      if (flags.json) return void process.stdout.write(JSON.stringify(doc) + '\n');
      for (const e of doc.individual) process.stdout.write(`individual\t${e.registrationId}\t${e.attestation.type}${e.deviceId ? `\tdevice ${e.deviceId}` : ''}\n`);
      for (const g of doc.groups) process.stdout.write(`group\t${g.groupId}\t${g.attestation.type}\n`);
    });

  dirOption(cmd.command('registrations'))
    .description('list registrations: device, assigned hub, how many times it registered, when last')
    .option('--json', 'one JSON line per registration')
    .action(async (flags: DirFlags & { json?: boolean }) => {
      const { RegistrationStore } = await dps();
      for (const r of await RegistrationStore.readFile(RegistrationStore.path(join(flags.dataDir, 'dps')))) {
        process.stdout.write(flags.json ? JSON.stringify(r) + '\n' : `${r.registrationId}\t${r.deviceId}\t${r.assignedHub}\t${r.enrollment}\t${r.count}×\t${new Date(r.lastUpdatedAt).toISOString()}\t${r.substatus}\n`);
      }
    });
}
