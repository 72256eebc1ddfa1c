import { readFileSync } from 'node:fs';
import type { Clock } from '../core/clock.js';
import { EdgeError, errorMessage } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { AgentConfig } from '../config/schema.js';
import { deriveDeviceKey } from '../transport/provisioning/derive-key.js';
import type { Provisioner } from '../transport/provisioning/provisioner.js';

function read(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (cause) {
    throw new EdgeError('EDGE_CONFIG_INVALID', `${what} ${path} cannot be read: ${errorMessage(cause)}`, { cause });
  }
}

/** The DPS provisioner of a config with `provisioning`, its stored assignment read. */
export async function openProvisioner(config: AgentConfig, deps: { clock: Clock; logger: Logger }): Promise<Provisioner | undefined> {
  const p = config.provisioning;
  if (!p) return undefined;
  // Only a provisioned gateway loads the DPS SDK (its transport, security clients and their
  // dependencies): one with a connection string never needs them.
  const { Provisioner } = await import('../transport/provisioning/provisioner.js');
  const credentials = p.x509
    ? { x509: { cert: read(p.x509.certFile, 'provisioning.x509.certFile'), key: read(p.x509.keyFile, 'provisioning.x509.keyFile'), ...(p.x509.passphrase ? { passphrase: p.x509.passphrase } : {}) } }
    : { symmetricKey: p.symmetricKey ?? deriveDeviceKey(p.groupKey!, p.registrationId) };
  return Provisioner.open({
    dataDir: config.dataDir,
    idScope: p.idScope,
    registrationId: p.registrationId,
    globalEndpoint: p.globalEndpoint,
    attestation: p.x509 ? 'x509' : p.symmetricKey ? 'symmetricKey' : 'groupKey',
    credentials,
    ...(p.caFile ? { ca: read(p.caFile, 'provisioning.caFile') } : {}),
    timeoutMs: p.timeoutMs,
    hubGoneAfterMs: p.hubGoneAfterMs,
    minIntervalMs: p.minIntervalMs,
    clock: deps.clock,
    logger: deps.logger.child({ module: 'provisioning' }),
  });
}
