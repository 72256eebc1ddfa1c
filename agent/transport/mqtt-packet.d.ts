// The one switch we use from the SDK's nested mqtt-packet (see mqtt-number-cache.ts).
declare module 'mqtt/node_modules/mqtt-packet/mqtt.js' {
  const mqttPacket: { writeToStream: { cacheNumbers: boolean } };
  export default mqttPacket;
}
