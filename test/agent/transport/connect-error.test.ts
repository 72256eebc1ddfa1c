import { describe, expect, it } from 'vitest';
import { classifyConnectError, connectError } from '../../../agent/transport/connect-error.js';
import { deviceSasToken } from '../../../agent/transport/sas-token.js';
import { createSasToken } from '../../../cloud/iothub/sas.js';

describe('connect errors: credentials vs availability', () => {
  // Messages exactly as azure-iot-device-mqtt 1.16 produces them on a failed first CONNECT.
  it.each([
    ['mqtt.js returned Failure on first connection (Not authorized): Connection refused: Not authorized error', 'unauthorized'],
    ['mqtt.js returned Failure on first connection (Not authorized): Connection refused: Bad username or password error', 'unauthorized'],
    ['mqtt.js returned Failure on first connection (Not authorized): Connection refused: Server unavailable error', 'unavailable'],
    ['mqtt.js returned Failure on first connection (Not authorized): Client network socket disconnected before secure TLS connection was established error', 'unavailable'],
    ['connect ECONNREFUSED 127.0.0.1:8883', 'unavailable'],
  ])('%s → %s', (message, kind) => {
    const err = Object.assign(new Error(message), { name: 'UnauthorizedError' });
    expect(classifyConnectError(err)).toBe(kind);
    expect(connectError(err).code).toBe(kind === 'unauthorized' ? 'EDGE_TRANSPORT_UNAUTHORIZED' : 'EDGE_TRANSPORT_UNAVAILABLE');
    expect(connectError(err).message).not.toMatch(/Failure on first connection/);
  });
});

describe('device SAS token', () => {
  it('is byte for byte what the hub side builds', () => {
    const key = Buffer.alloc(32, 3).toString('base64');
    expect(deviceSasToken('localhost:8883', 'dev-1', key, 1_800_000_000)).toBe(createSasToken('localhost:8883/devices/dev-1', key, 1_800_000_000));
  });
});
