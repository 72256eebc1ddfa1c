/**
 * IoT Hub's MQTT topic names, in one place: what a device may publish to, what it may subscribe
 * to, and the topics the hub sends on.
 */
export type DevicePublish =
  | { kind: 'telemetry'; propertyBag: string }
  | { kind: 'twin-get'; rid: string }
  | { kind: 'twin-patch-reported'; rid: string }
  | { kind: 'method-response'; rid: string; status: number };

/** Splits `path/?a=b&c=d` into the path and its query parameters (decoded). */
function splitQuery(topic: string): { path: string; query: URLSearchParams } {
  const q = topic.indexOf('?');
  if (q < 0) return { path: topic, query: new URLSearchParams() };
  return { path: topic.slice(0, q), query: new URLSearchParams(topic.slice(q + 1)) };
}

/**
 * Classifies a device's PUBLISH topic. Undefined means IoT Hub would not accept it (another
 * device's topic, an unknown `$iothub` path, a module topic): the hub drops the connection.
 */
export function parseDevicePublish(deviceId: string, topic: string): DevicePublish | undefined {
  const events = `devices/${deviceId}/messages/events/`;
  if (topic.startsWith(events)) return { kind: 'telemetry', propertyBag: topic.slice(events.length) };
  // The SDK always adds the trailing slash; IoT Hub also accepts the bare form.
  if (topic === `devices/${deviceId}/messages/events`) return { kind: 'telemetry', propertyBag: '' };
  if (!topic.startsWith('$iothub/')) return undefined;
  const { path, query } = splitQuery(topic);
  const rid = query.get('$rid');
  if (path === '$iothub/twin/GET/' && rid) return { kind: 'twin-get', rid };
  if (path === '$iothub/twin/PATCH/properties/reported/' && rid) return { kind: 'twin-patch-reported', rid };
  const m = /^\$iothub\/methods\/res\/(\d{3})\/$/.exec(path);
  if (m && rid) return { kind: 'method-response', rid, status: Number(m[1]) };
  return undefined;
}

export const TWIN_RESPONSE_FILTER = '$iothub/twin/res/#';
export const TWIN_DESIRED_FILTER = '$iothub/twin/PATCH/properties/desired/#';
export const METHODS_FILTER = '$iothub/methods/POST/#';

export function c2dFilter(deviceId: string): string {
  return `devices/${deviceId}/messages/devicebound/#`;
}

/** The topic filters a device may subscribe to: its own cloud-to-device topic and the `$iothub` ones. */
export function mayDeviceSubscribe(deviceId: string, filter: string): boolean {
  return (
    filter === TWIN_RESPONSE_FILTER ||
    filter === TWIN_DESIRED_FILTER ||
    filter === METHODS_FILTER ||
    filter === c2dFilter(deviceId) ||
    filter.startsWith(`devices/${deviceId}/messages/devicebound/`)
  );
}

export function twinResponseTopic(status: number, rid: string, version?: number): string {
  return `$iothub/twin/res/${status}/?$rid=${encodeURIComponent(rid)}` + (version === undefined ? '' : `&$version=${version}`);
}

export function desiredPatchTopic(version: number): string {
  return `$iothub/twin/PATCH/properties/desired/?$version=${version}`;
}

export function methodRequestTopic(methodName: string, rid: string): string {
  return `$iothub/methods/POST/${methodName}/?$rid=${encodeURIComponent(rid)}`;
}

export function c2dTopic(deviceId: string, propertyBag: string): string {
  return `devices/${deviceId}/messages/devicebound/${propertyBag}`;
}

/**
 * Parses the username `<host>/<deviceId>/?api-version=…&DeviceClientType=…`. The host may carry a
 * port (`localhost:8883`) but never a slash.
 */
export function parseUsername(username: string): { host: string; deviceId: string; apiVersion: string } | undefined {
  const slash = username.indexOf('/');
  if (slash <= 0) return undefined;
  const host = username.slice(0, slash);
  const rest = username.slice(slash + 1);
  const q = rest.indexOf('/?');
  if (q <= 0) return undefined;
  const deviceId = rest.slice(0, q);
  const apiVersion = new URLSearchParams(rest.slice(q + 2)).get('api-version');
  if (!apiVersion) return undefined;
  return { host, deviceId, apiVersion };
}
