import type { TLSSocket } from 'node:tls';

/**
 * Devices reach IoT Hub's MQTT and HTTPS faces on one host name. The SDK's HTTP calls (file
 * upload) go to the connection string's `HostName`, which for this emulator carries the MQTT
 * port, so both protocols arrive on one TLS port and are told apart by the first byte the
 * client sends: an MQTT CONNECT is 0x10, an HTTP request starts with its method's letters.
 * The byte is put back before the socket is handed on. A link that sends nothing within
 * `silentMs` is closed, as aedes would close one that never sends its CONNECT.
 */
export function routeByFirstByte(socket: TLSSocket, routes: { mqtt: (s: TLSSocket) => void; http: (s: TLSSocket) => void }, silentMs = 30_000): void {
  socket.setTimeout(silentMs, () => socket.destroy());
  const onReadable = (): void => {
    const chunk = socket.read() as Buffer | null;
    if (chunk === null || chunk.length === 0) return;
    socket.off('readable', onReadable);
    socket.setTimeout(0);
    socket.unshift(chunk);
    const first = chunk[0]!;
    if (first >= 0x41 && first <= 0x5a) routes.http(socket);
    else routes.mqtt(socket);
  };
  socket.on('readable', onReadable);
}
