// The MQTT client under the IoT Hub SDK (mqtt@4, which brings its own mqtt-packet@6) encodes
// 16-bit numbers from a table of 65,536 two-byte Buffers that it builds on the first packet it
// writes and never frees: ~6 MB of a gateway's heap, for saving a two-byte write per packet.
// mqtt-packet documents `writeToStream.cacheNumbers = false` to switch the table off. The path
// is the SDK's own copy (npm nests it under mqtt); if an upgrade moves it, the import fails at
// build and test time rather than the table coming back unnoticed.
import sdkMqttPacket from 'mqtt/node_modules/mqtt-packet/mqtt.js';

/** Idempotent; must run before the SDK writes its first packet (a client's CONNECT). */
export function disableMqttNumberCache(): void {
  sdkMqttPacket.writeToStream.cacheNumbers = false;
}
