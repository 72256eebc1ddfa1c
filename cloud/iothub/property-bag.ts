/**
 * The MQTT property bag: the url-encoded `key=value&key=value` tail of a telemetry or
 * cloud-to-device topic. Keys starting `$.` are IoT Hub system properties; everything else is an
 * application property that routing (and our reconciler) can read without the body.
 */
export interface DecodedPropertyBag {
  /** System properties under IoT Hub's own names (`message-id`, `content-type`, …). */
  systemProperties: Record<string, string>;
  /** Application properties, keys and values decoded. */
  properties: Record<string, string>;
}

/** `$.` short names → the names IoT Hub uses on the Event Hub-compatible endpoint. */
const SYSTEM_NAMES: Readonly<Record<string, string>> = {
  '$.mid': 'message-id',
  '$.cid': 'correlation-id',
  '$.uid': 'user-id',
  '$.ct': 'content-type',
  '$.ce': 'content-encoding',
  '$.to': 'to',
  '$.exp': 'absolute-expiry-time',
  '$.sub': 'dt-subject',
  '$.ifid': 'dt-dataschema',
};

const SHORT_NAMES: Readonly<Record<string, string>> = Object.fromEntries(
  Object.entries(SYSTEM_NAMES).map(([short, long]) => [long, short]),
);

/** Thrown for a bag that is not valid url-encoding; the caller refuses the message. */
export class PropertyBagError extends Error {
  override readonly name = 'PropertyBagError';
}

/**
 * Decodes a property bag. A key without `=` gets the empty value (the SDK never sends one, but
 * IoT Hub tolerates it). Unknown `$.`-keys keep their name without the `$.` prefix as system
 * properties rather than leaking into the application's namespace.
 */
export function decodePropertyBag(bag: string): DecodedPropertyBag {
  const systemProperties: Record<string, string> = {};
  const properties: Record<string, string> = {};
  if (bag === '') return { systemProperties, properties };
  for (const pair of bag.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const rawKey = eq < 0 ? pair : pair.slice(0, eq);
    const rawValue = eq < 0 ? '' : pair.slice(eq + 1);
    let key: string;
    let value: string;
    try {
      key = decodeURIComponent(rawKey);
      value = decodeURIComponent(rawValue);
    } catch (cause) {
      throw new PropertyBagError(`property bag is not valid url-encoding: ${pair}`, { cause });
    }
    if (key.startsWith('$.')) {
      systemProperties[SYSTEM_NAMES[key] ?? key.slice(2)] = value;
    } else {
      properties[key] = value;
    }
  }
  return { systemProperties, properties };
}

/**
 * Encodes a bag for a cloud-to-device topic: system properties (by their long names) become
 * `$.`-keys, application properties follow.
 */
export function encodePropertyBag(systemProperties: Record<string, string>, properties: Record<string, string>): string {
  const parts: string[] = [];
  for (const [name, value] of Object.entries(systemProperties)) {
    const short = SHORT_NAMES[name] ?? `$.${name}`;
    parts.push(`${encodeURIComponent(short)}=${encodeURIComponent(value)}`);
  }
  for (const [key, value] of Object.entries(properties)) {
    parts.push(`${encodeURIComponent(key)}=${encodeURIComponent(value)}`);
  }
  return parts.join('&');
}
