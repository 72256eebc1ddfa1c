import { createHmac } from 'node:crypto';

/**
 * A group enrollment member's device key, as DPS computes it: base64 of HMAC-SHA256 over the
 * registration id, keyed with the base64-decoded group key. The group key itself never needs
 * to leave the factory; a box may carry only its derived key (`symmetricKey`).
 */
export function deriveDeviceKey(groupKey: string, registrationId: string): string {
  return createHmac('sha256', Buffer.from(groupKey, 'base64')).update(registrationId, 'utf8').digest('base64');
}
