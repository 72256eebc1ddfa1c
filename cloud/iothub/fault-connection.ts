import { Duplex } from 'node:stream';
import type { Socket } from 'node:net';

/**
 * Sits between a device's TLS socket and the broker, so tests can break the link in ways a real
 * network does: cut it, or make it go silent (half-open) while the socket stays up.
 *
 * Silent means: bytes from the device are discarded before the broker sees them, and bytes from
 * the broker are discarded before the device sees them; neither side gets a FIN or RST. The
 * device only finds out through its own keep-alive, exactly as on a dead cellular link. When the
 * broker gives up on a silent connection (1.5× keep-alive), the socket is left open and idle so
 * the device still sees nothing; it is destroyed when the device closes it or the emulator stops.
 */
export class FaultConnection extends Duplex {
  private silentFlag = false;

  constructor(readonly socket: Socket) {
    super({ allowHalfOpen: false });
    socket.on('data', (chunk: Buffer) => {
      if (this.silentFlag) return;
      if (!this.push(chunk)) socket.pause();
    });
    socket.on('end', () => {
      if (!this.silentFlag) this.push(null);
    });
    socket.on('error', (err) => {
      if (!this.destroyed) this.destroy(err);
    });
    socket.on('close', () => {
      if (!this.destroyed) this.destroy();
    });
  }

  get silent(): boolean {
    return this.silentFlag;
  }

  /** Stop reading and writing; the socket stays open. */
  goSilent(): void {
    this.silentFlag = true;
    // Keep draining the socket so the device's writes do not block on TCP backpressure: a dead
    // link swallows bytes rather than refusing them.
    this.socket.resume();
  }

  /** Cut the link: the device sees the connection close. */
  cut(): void {
    this.socket.destroy();
  }

  override _read(): void {
    if (!this.silentFlag) this.socket.resume();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (this.silentFlag || this.socket.destroyed) {
      cb();
      return;
    }
    // Complete only once the socket has taken it, so broker backpressure follows the network.
    if (this.socket.write(chunk)) cb();
    else this.socket.once('drain', () => cb());
  }

  override _final(cb: (err?: Error | null) => void): void {
    if (!this.silentFlag) this.socket.end();
    cb();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    if (!this.silentFlag) this.socket.destroy();
    cb(err);
  }
}
