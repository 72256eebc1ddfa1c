import provisioningSdk from 'azure-iot-provisioning-device';
import provisioningMqtt from 'azure-iot-provisioning-device-mqtt';
import symmetricKeySdk from 'azure-iot-security-symmetric-key';
import x509Sdk from 'azure-iot-security-x509';
import { EdgeError, errorMessage } from '../../core/errors.js';

const { ProvisioningDeviceClient } = provisioningSdk as unknown as { ProvisioningDeviceClient: { create: (...args: unknown[]) => SdkRegistrationClient } };
const { Mqtt } = provisioningMqtt;
const { SymmetricKeySecurityClient } = symmetricKeySdk;
const { X509Security } = x509Sdk;

interface SdkRegistrationClient {
  register(): Promise<{ assignedHub?: string; deviceId?: string; substatus?: string; status?: string }>;
  cancel(): Promise<void>;
}

/**
 * The provisioning transport takes its TLS trust only from the `MqttBase` it builds in its
 * constructor (its own options carry the polling interval alone), so a private CA goes to that
 * instance. Reaching it beats importing `azure-iot-mqtt-base` ourselves: that package is not ours
 * to depend on, the transport ships its own copy of it, and the packaged single executable (one
 * esbuild bundle, no node_modules) must resolve nothing at run time.
 */
function trustCa(transport: InstanceType<typeof Mqtt>, ca: string): void {
  const base = (transport as unknown as { _mqttBase?: { setOptions?: (o: { ca: string }) => void } })._mqttBase;
  if (typeof base?.setOptions !== 'function') {
    throw new EdgeError('EDGE_CONFIG_INVALID', 'this azure-iot-provisioning-device-mqtt version offers no way to trust provisioning.caFile');
  }
  base.setOptions({ ca });
}

export type DpsCredentials = { symmetricKey: string } | { x509: { cert: string; key: string; passphrase?: string } };

export interface DpsRequest {
  /** DPS host, `global.azure-devices-provisioning.net` in Azure (`host:port` accepted). */
  globalEndpoint: string;
  idScope: string;
  registrationId: string;
  credentials: DpsCredentials;
  /** PEM of a CA to trust besides the system's (the local emulator's). */
  ca?: string;
  /** The SDK gives up on one request after 30 s; the whole registration (polls, 429 waits) is bounded here. */
  timeoutMs: number;
}

export interface DpsAssignment {
  assignedHub: string;
  deviceId: string;
  substatus?: string;
}

/**
 * One registration through the official SDK (`azure-iot-provisioning-device` over MQTT): connect,
 * register, poll until assigned (the SDK honours DPS's `retry-after`, 429 included), disconnect.
 * Refusals (401/403/404, a refused CONNECT, a failed registration) are EDGE_PROVISIONING_REFUSED;
 * everything else, timeouts included, EDGE_PROVISIONING_UNAVAILABLE.
 */
export async function registerWithDps(req: DpsRequest, setTimer: (fn: () => void, ms: number) => () => void): Promise<DpsAssignment> {
  const transport = new Mqtt();
  if (req.ca) trustCa(transport, req.ca);
  const security =
    'symmetricKey' in req.credentials
      ? new SymmetricKeySecurityClient(req.registrationId, req.credentials.symmetricKey)
      : new X509Security(req.registrationId, req.credentials.x509 as never);
  const client = ProvisioningDeviceClient.create(req.globalEndpoint, req.idScope, transport, security);
  let cancel: (() => void) | undefined;
  const timedOut = new Promise<never>((_resolve, reject) => {
    cancel = setTimer(() => {
      void client.cancel().catch(() => undefined);
      reject(new EdgeError('EDGE_PROVISIONING_UNAVAILABLE', `DPS ${req.globalEndpoint} did not assign ${req.registrationId} within ${req.timeoutMs} ms`));
    }, req.timeoutMs);
  });
  try {
    const result = await Promise.race([client.register(), timedOut]);
    if (!result.assignedHub || !result.deviceId) {
      throw new EdgeError('EDGE_PROVISIONING_REFUSED', `DPS answered ${req.registrationId} without an assigned hub (status ${result.status ?? 'none'})`);
    }
    return { assignedHub: result.assignedHub, deviceId: result.deviceId, ...(result.substatus ? { substatus: result.substatus } : {}) };
  } catch (err) {
    throw provisioningError(err, req);
  } finally {
    cancel?.();
  }
}

const REFUSALS = /UnauthorizedError|DeviceNotFoundError|ArgumentError|DeviceRegistrationFailedError|Not authorized|Bad username or password|Connection refused: (4|5)\b/i;

function provisioningError(err: unknown, req: DpsRequest): EdgeError {
  if (err instanceof EdgeError) return err;
  const name = err instanceof Error ? err.constructor.name : '';
  const text = `${name}: ${errorMessage(err)}`;
  if (REFUSALS.test(text)) {
    return new EdgeError('EDGE_PROVISIONING_REFUSED', `DPS refused registration ${req.registrationId} in scope ${req.idScope} (enrollment missing or disabled, wrong key or certificate): ${errorMessage(err)}`, { cause: err });
  }
  return new EdgeError('EDGE_PROVISIONING_UNAVAILABLE', `DPS ${req.globalEndpoint} is unavailable or unreachable: ${errorMessage(err)}`, { cause: err });
}
