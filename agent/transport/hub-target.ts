import type { EdgeError } from '../core/errors.js';
import type { ConnectFailure } from './connect-error.js';

/** Where the supervisor connects: a device connection string, and the client certificate for `x509=true`. */
export interface HubTarget {
  connectionString: string;
  x509?: { cert: string; key: string; passphrase?: string };
}

/** What `status` shows of zero-touch provisioning. */
export interface ProvisioningStatus {
  idScope: string;
  registrationId: string;
  globalEndpoint: string;
  attestation: 'symmetricKey' | 'groupKey' | 'x509';
  assignedHub?: string;
  deviceId?: string;
  /** The last registration: when (epoch ms), why, and what DPS said of it. */
  last?: { at: number; reason: string; substatus?: string };
  /** A registration is due (and why) at the next connect. */
  pending?: string;
  /** Registrations made by this run (0 when the stored assignment sufficed). */
  registrations: number;
  lastError?: { code: string; message: string; at: number };
}

/**
 * Asked by the supervisor before every connect, and told how each ended. A fixed connection
 * string is one; DPS provisioning is the other (it may register first, and decides from the
 * failures when to register again).
 */
export interface HubTargetSource {
  resolve(): Promise<HubTarget>;
  connectFailed(kind: ConnectFailure, err: EdgeError): void;
  connected(): void;
  status(): ProvisioningStatus;
}
