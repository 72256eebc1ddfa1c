import { X509Certificate, generateKeyPairSync } from 'node:crypto';
import forge from 'node-forge';
import { join } from 'node:path';
import { IotHubEmulator, loadTlsMaterial } from '../../cloud/iothub/index.js';
import { DpsEmulator } from '../../cloud/iothub/dps/index.js';
import { tempDir } from './tmp.js';

export interface DpsFleet {
  dps: DpsEmulator;
  hubs: IotHubEmulator[];
  /** The one CA every emulator's server certificate chains to. */
  caPem: string;
  dir: string;
  close: () => Promise<void>;
}

/** A DPS and `hubCount` hubs in one temp dir, sharing one TLS identity; DPS polls answered after 50 ms. */
export async function startDpsFleet(hubCount = 2): Promise<DpsFleet> {
  const dir = tempDir('dps');
  const hubs: IotHubEmulator[] = [];
  hubs.push(await IotHubEmulator.start({ dataDir: join(dir.path, 'hub-0') }));
  const tls = (await loadTlsMaterial(hubs[0]!.dataDir))!;
  for (let i = 1; i < hubCount; i++) hubs.push(await IotHubEmulator.start({ dataDir: join(dir.path, `hub-${i}`), tls }));
  const dps = await DpsEmulator.start({ dataDir: join(dir.path, 'dps'), hubs, tls, pollAfterSeconds: 0.05 });
  return {
    dps,
    hubs,
    caPem: tls.caPem,
    dir: dir.path,
    close: async () => {
      await dps.stop();
      for (const h of hubs) await h.stop();
      dir.cleanup();
    },
  };
}

function keyPair(): { privateKey: string; publicKey: string } {
  return generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
}

export interface TestCa {
  cert: string;
  key: string;
}

/** A CA for an X.509 enrollment group. */
export function testCa(name = 'edge-test-group-ca'): TestCa {
  const { privateKey, publicKey } = keyPair();
  const c = forge.pki.createCertificate();
  c.publicKey = forge.pki.publicKeyFromPem(publicKey);
  c.serialNumber = '0a';
  c.validity.notBefore = new Date(Date.now() - 3600_000);
  c.validity.notAfter = new Date(Date.now() + 24 * 3600_000);
  const subject = [{ name: 'commonName', value: name }];
  c.setSubject(subject);
  c.setIssuer(subject);
  c.setExtensions([{ name: 'basicConstraints', cA: true }, { name: 'keyUsage', keyCertSign: true, digitalSignature: true }]);
  c.sign(forge.pki.privateKeyFromPem(privateKey), forge.md.sha256.create());
  return { cert: forge.pki.certificateToPem(c), key: privateKey };
}

/** A device certificate (CN = registration id) issued by `ca`; `cert` holds the chain (device, then CA). */
export function deviceCertFrom(ca: TestCa, registrationId: string): { cert: string; key: string; thumbprint: string } {
  const { privateKey, publicKey } = keyPair();
  const c = forge.pki.createCertificate();
  c.publicKey = forge.pki.publicKeyFromPem(publicKey);
  c.serialNumber = '0b';
  c.validity.notBefore = new Date(Date.now() - 3600_000);
  c.validity.notAfter = new Date(Date.now() + 24 * 3600_000);
  c.setSubject([{ name: 'commonName', value: registrationId }]);
  c.setIssuer(forge.pki.certificateFromPem(ca.cert).subject.attributes);
  c.setExtensions([{ name: 'extKeyUsage', clientAuth: true }]);
  c.sign(forge.pki.privateKeyFromPem(ca.key), forge.md.sha256.create());
  const pem = forge.pki.certificateToPem(c);
  return { cert: pem + ca.cert, key: privateKey, thumbprint: new X509Certificate(pem).fingerprint256 };
}
