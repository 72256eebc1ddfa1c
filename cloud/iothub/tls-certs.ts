import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import forge from 'node-forge';
import { writeFileAtomic } from './atomic-file.js';

/**
 * The emulator's TLS identity: a private CA and a server certificate it signs (SAN `localhost`
 * and `127.0.0.1`). Generated on first start into `dataDir/tls/`, reused afterwards so devices
 * configured with the CA keep trusting the emulator across restarts. Never committed: it lives
 * only in the data dir.
 */
export interface TlsMaterial {
  /** PEM of the CA: what a device passes to `client.setOptions({ ca })`. */
  caPem: string;
  serverCertPem: string;
  serverKeyPem: string;
}

function tlsDir(dataDir: string): string {
  return join(dataDir, 'tls');
}

const FILES = { ca: 'ca.pem', caKey: 'ca-key.pem', cert: 'server.pem', key: 'server-key.pem' } as const;

/**
 * Loads the data dir's TLS material, generating it the first time, or installing `provided`
 * instead of generating (tests share one CA so that each emulator skips RSA key generation).
 */
export async function ensureTlsMaterial(dataDir: string, provided?: TlsMaterial): Promise<TlsMaterial> {
  const dir = tlsDir(dataDir);
  const existing = await loadTlsMaterial(dataDir);
  if (existing) return existing;
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const generated = provided ?? generateTlsMaterial();
  if ('caKeyPem' in generated && typeof generated.caKeyPem === 'string') await writeFileAtomic(join(dir, FILES.caKey), generated.caKeyPem);
  await writeFileAtomic(join(dir, FILES.key), generated.serverKeyPem);
  await writeFileAtomic(join(dir, FILES.cert), generated.serverCertPem);
  // The CA last: its presence marks the set as complete.
  await writeFileAtomic(join(dir, FILES.ca), generated.caPem, 0o644);
  return { caPem: generated.caPem, serverCertPem: generated.serverCertPem, serverKeyPem: generated.serverKeyPem };
}

/** The CA PEM of a data dir, for devices and tools in other processes; undefined if none yet. */
export async function loadTlsMaterial(dataDir: string): Promise<TlsMaterial | undefined> {
  const dir = tlsDir(dataDir);
  try {
    const caPem = await readFile(join(dir, FILES.ca), 'utf8');
    const serverCertPem = await readFile(join(dir, FILES.cert), 'utf8');
    const serverKeyPem = await readFile(join(dir, FILES.key), 'utf8');
    return { caPem, serverCertPem, serverKeyPem };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** RSA keys come from node:crypto (native, ~10× faster than forge's JS); forge builds the X.509. */
function rsaKeyPair(): { privateKey: forge.pki.rsa.PrivateKey; publicKey: forge.pki.rsa.PublicKey; privateKeyPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  return {
    privateKey: forge.pki.privateKeyFromPem(privateKey),
    publicKey: forge.pki.publicKeyFromPem(publicKey),
    privateKeyPem: privateKey,
  };
}

function serial(): string {
  // Positive 16-byte serial: clear the top bit so DER does not read it as negative.
  const b = randomBytes(16);
  b[0] = b[0]! & 0x7f;
  return b.toString('hex');
}

function generateTlsMaterial(): TlsMaterial & { caKeyPem: string } {
  const now = new Date();
  const ca = rsaKeyPair();
  const caCert = forge.pki.createCertificate();
  caCert.publicKey = ca.publicKey;
  caCert.serialNumber = serial();
  caCert.validity.notBefore = new Date(now.getTime() - 24 * 3600_000);
  caCert.validity.notAfter = new Date(now.getTime() + 10 * 365 * 24 * 3600_000);
  const caSubject = [
    { name: 'commonName', value: 'edge-agent IoT Hub emulator CA' },
    { name: 'organizationName', value: 'edge-agent (local emulator, not for production)' },
  ];
  caCert.setSubject(caSubject);
  caCert.setIssuer(caSubject);
  caCert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  caCert.sign(ca.privateKey, forge.md.sha256.create());

  const server = rsaKeyPair();
  const cert = forge.pki.createCertificate();
  cert.publicKey = server.publicKey;
  cert.serialNumber = serial();
  cert.validity.notBefore = new Date(now.getTime() - 24 * 3600_000);
  cert.validity.notAfter = new Date(now.getTime() + 2 * 365 * 24 * 3600_000);
  cert.setSubject([{ name: 'commonName', value: 'localhost' }]);
  cert.setIssuer(caSubject);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    {
      name: 'subjectAltName',
      altNames: [
        { type: 2, value: 'localhost' },
        { type: 7, ip: '127.0.0.1' },
        { type: 7, ip: '::1' },
      ],
    },
    { name: 'subjectKeyIdentifier' },
    { name: 'authorityKeyIdentifier', keyIdentifier: caCert.generateSubjectKeyIdentifier().getBytes() },
  ]);
  cert.sign(ca.privateKey, forge.md.sha256.create());

  return {
    caPem: forge.pki.certificateToPem(caCert),
    caKeyPem: ca.privateKeyPem,
    serverCertPem: forge.pki.certificateToPem(cert),
    serverKeyPem: server.privateKeyPem,
  };
}
