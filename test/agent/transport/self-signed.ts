import { X509Certificate, generateKeyPairSync } from 'node:crypto';
import forge from 'node-forge';

/** A self-signed device certificate (CN = device id) and its SHA-256 thumbprint, as IoT Hub registers them. */
export function selfSignedDeviceCert(deviceId: string): { cert: string; key: string; thumbprint: string } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
  const c = forge.pki.createCertificate();
  c.publicKey = forge.pki.publicKeyFromPem(publicKey);
  c.serialNumber = '01';
  c.validity.notBefore = new Date(Date.now() - 3600_000);
  c.validity.notAfter = new Date(Date.now() + 24 * 3600_000);
  const subject = [{ name: 'commonName', value: deviceId }];
  c.setSubject(subject);
  c.setIssuer(subject);
  c.setExtensions([{ name: 'extKeyUsage', clientAuth: true }]);
  c.sign(forge.pki.privateKeyFromPem(privateKey), forge.md.sha256.create());
  const cert = forge.pki.certificateToPem(c);
  return { cert, key: privateKey, thumbprint: new X509Certificate(cert).fingerprint256 };
}
