import { createHmac, X509Certificate } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { EdgeError } from '../../../agent/core/errors.js';
import { readJsonFile, writeFileAtomic } from '../atomic-file.js';
import { normalizeThumbprint } from '../device-registry.js';

/**
 * DPS enrollments: who may register, and how they prove it. Individual enrollments name one
 * registration id (symmetric key or a self-signed certificate's thumbprint); groups admit any
 * registration id whose key is derived from the group key, or whose certificate the group's CA
 * signed. Kept in `enrollments.json`, read again at every registration, so the CLI can enroll a
 * device beside a running DPS without talking to it.
 */
export type Attestation = { type: 'symmetricKey'; primaryKey: string } | { type: 'x509'; thumbprint: string } | { type: 'x509CA'; caPem: string };

export interface IndividualEnrollment {
  registrationId: string;
  /** The IoT Hub device id to create; the registration id when absent (as DPS does). */
  deviceId?: string;
  attestation: Extract<Attestation, { type: 'symmetricKey' | 'x509' }>;
  createdAt: number;
}

export interface GroupEnrollment {
  groupId: string;
  attestation: Extract<Attestation, { type: 'symmetricKey' | 'x509CA' }>;
  createdAt: number;
}

interface EnrollmentFile {
  version: 1;
  individual: IndividualEnrollment[];
  groups: GroupEnrollment[];
}

/** The device key a group member uses: base64 HMAC-SHA256 of its registration id under the group key. */
export function deriveDeviceKey(groupKey: string, registrationId: string): string {
  return createHmac('sha256', Buffer.from(groupKey, 'base64')).update(registrationId, 'utf8').digest('base64');
}

/** What matched a registration: the enrollment, and the key the hub device gets (SAS only). */
export interface EnrollmentMatch {
  kind: 'individual' | 'group';
  id: string;
  deviceId: string;
  primaryKey?: string;
  thumbprint?: string;
}

const REGISTRATION_ID = /^[a-z0-9.\-_]{1,128}$/i;

export class EnrollmentStore {
  readonly path: string;

  constructor(dataDir: string) {
    this.path = join(dataDir, 'enrollments.json');
  }

  private async write(doc: EnrollmentFile): Promise<void> {
    await mkdir(dirname(this.path), { recursive: true });
    await writeFileAtomic(this.path, JSON.stringify(doc, null, 2) + '\n');
  }

  async read(): Promise<EnrollmentFile> {
    const doc = (await readJsonFile(this.path)) as Partial<EnrollmentFile> | undefined;
    if (doc === undefined) return { version: 1, individual: [], groups: [] };
    if (!Array.isArray(doc.individual) || !Array.isArray(doc.groups)) throw new EdgeError('EDGE_STORE_CORRUPT', `${this.path} lacks its "individual" and "groups" lists`);
    return { version: 1, individual: doc.individual, groups: doc.groups };
  }

  /** Adds or replaces the individual enrollment of `registrationId`. */
  async enrollDevice(e: Omit<IndividualEnrollment, 'createdAt'>, now: number): Promise<IndividualEnrollment> {
    if (!REGISTRATION_ID.test(e.registrationId)) throw new EdgeError('EDGE_USAGE', `invalid registration id "${e.registrationId}": up to 128 letters, digits, '.', '-' or '_'`);
    const doc = await this.read();
    const entry: IndividualEnrollment = { ...e, ...(e.attestation.type === 'x509' ? { attestation: { type: 'x509', thumbprint: normalizeThumbprint(e.attestation.thumbprint) } } : {}), createdAt: now };
    doc.individual = [...doc.individual.filter((x) => x.registrationId !== e.registrationId), entry];
    await this.write(doc);
    return entry;
  }

  /** Adds or replaces the group `groupId`. */
  async enrollGroup(e: Omit<GroupEnrollment, 'createdAt'>, now: number): Promise<GroupEnrollment> {
    if (e.attestation.type === 'x509CA') new X509Certificate(e.attestation.caPem); // refuse a PEM that does not parse, now
    const doc = await this.read();
    const entry: GroupEnrollment = { ...e, createdAt: now };
    doc.groups = [...doc.groups.filter((x) => x.groupId !== e.groupId), entry];
    await this.write(doc);
    return entry;
  }

  /** Removes an individual enrollment or a group; true when there was one. */
  async remove(id: string): Promise<boolean> {
    const doc = await this.read();
    const before = doc.individual.length + doc.groups.length;
    doc.individual = doc.individual.filter((x) => x.registrationId !== id);
    doc.groups = doc.groups.filter((x) => x.groupId !== id);
    if (doc.individual.length + doc.groups.length === before) return false;
    await this.write(doc);
    return true;
  }

  /**
   * The enrollment a symmetric-key registration belongs to: `verify(key)` says whether the SAS
   * token was signed with that key. An individual enrollment takes precedence over groups.
   */
  async matchKey(registrationId: string, verify: (key: string) => boolean): Promise<EnrollmentMatch | undefined> {
    const doc = await this.read();
    const own = doc.individual.find((e) => e.registrationId === registrationId);
    if (own) {
      return own.attestation.type === 'symmetricKey' && verify(own.attestation.primaryKey)
        ? { kind: 'individual', id: own.registrationId, deviceId: own.deviceId ?? registrationId, primaryKey: own.attestation.primaryKey }
        : undefined;
    }
    for (const g of doc.groups) {
      if (g.attestation.type !== 'symmetricKey') continue;
      const key = deriveDeviceKey(g.attestation.primaryKey, registrationId);
      if (verify(key)) return { kind: 'group', id: g.groupId, deviceId: registrationId, primaryKey: key };
    }
    return undefined;
  }

  /**
   * The enrollment of a TLS client certificate: an individual one with its thumbprint, or a
   * group whose CA issued and signed it. The registration id must be the certificate's CN.
   */
  async matchCertificate(registrationId: string, cert: X509Certificate): Promise<EnrollmentMatch | undefined> {
    const cn = /(?:^|\n)CN=([^\n]+)/.exec(cert.subject)?.[1];
    if (cn !== registrationId) return undefined;
    const thumbprint = normalizeThumbprint(cert.fingerprint256);
    const doc = await this.read();
    const own = doc.individual.find((e) => e.registrationId === registrationId);
    if (own) {
      return own.attestation.type === 'x509' && own.attestation.thumbprint === thumbprint ? { kind: 'individual', id: own.registrationId, deviceId: own.deviceId ?? registrationId, thumbprint } : undefined;
    }
    for (const g of doc.groups) {
      if (g.attestation.type !== 'x509CA') continue;
      const ca = new X509Certificate(g.attestation.caPem);
      if (cert.checkIssued(ca) && cert.verify(ca.publicKey)) return { kind: 'group', id: g.groupId, deviceId: registrationId, thumbprint };
    }
    return undefined;
  }
}
