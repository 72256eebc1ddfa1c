import { EdgeError } from '../core/errors.js';

export interface DeviceConnectionString {
  hostName: string;
  deviceId: string;
  sharedAccessKey?: string;
  x509: boolean;
}

/** Parses `HostName=…;DeviceId=…;SharedAccessKey=…` (or `x509=true`), naming what is missing. */
export function parseDeviceConnectionString(text: string): DeviceConnectionString {
  const fields = new Map<string, string>();
  for (const part of text.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0) fields.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  const hostName = fields.get('HostName');
  const deviceId = fields.get('DeviceId');
  const sharedAccessKey = fields.get('SharedAccessKey');
  const x509 = fields.get('x509')?.toLowerCase() === 'true';
  const missing = [!hostName && 'HostName', !deviceId && 'DeviceId', !sharedAccessKey && !x509 && 'SharedAccessKey (or x509=true)'].filter(Boolean);
  if (missing.length > 0 || !hostName || !deviceId) {
    throw new EdgeError('EDGE_CONFIG_INVALID', `the IoT Hub connection string lacks ${missing.join(', ')}`);
  }
  return { hostName, deviceId, x509, ...(sharedAccessKey ? { sharedAccessKey } : {}) };
}
