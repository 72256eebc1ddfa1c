import { crcValid } from './crc.js';

/** One RTU frame with a valid CRC: the unit id and the PDU (function code + data). */
export interface RtuFrame {
  unit: number;
  pdu: Buffer;
}

/** Which side of the conversation the decoder listens to: a master reads responses. */
export type RtuDirection = 'request' | 'response';

/**
 * Length of the frame that would start at `buf[i]`: a positive length, 0 when more bytes are
 * needed to tell, or -1 when no frame of this direction can start there.
 */
function frameLength(buf: Buffer, i: number, direction: RtuDirection): number {
  const avail = buf.length - i;
  if (avail < 2) return 0;
  const fc = buf[i + 1]!;
  if (direction === 'response') {
    if (fc & 0x80) return (fc & 0x7f) >= 1 && (fc & 0x7f) <= 16 ? 5 : -1;
    if (fc >= 1 && fc <= 4) return avail < 3 ? 0 : 5 + buf[i + 2]!;
    if (fc === 5 || fc === 6 || fc === 15 || fc === 16) return 8;
    return -1;
  }
  if (fc >= 1 && fc <= 6) return 8;
  if (fc === 15 || fc === 16) return avail < 7 ? 0 : 9 + buf[i + 6]!;
  return -1;
}

/**
 * Finds RTU frames in a byte stream without relying on inter-frame silence (which a pty, a
 * USB adapter or a busy kernel does not preserve). Bytes are buffered; at every push the
 * decoder looks for the earliest offset at which a complete frame with a valid CRC (and, if
 * set, the expected unit and function) starts. Bytes before it are stray. A byte is dropped
 * as soon as no frame starting at it can still complete, so the buffer never grows past one
 * maximum frame and a frame that follows garbage is found as soon as its last byte arrives
 * (resynchronisation within one frame). It never throws, whatever the input.
 */
export class RtuFrameDecoder {
  private buf: Buffer = Buffer.alloc(0);
  private expect: { unit: number; fc: number; byteCount: number | undefined } | undefined;
  /** Bytes discarded because they were not part of any valid frame. */
  strayBytes = 0;
  /** Complete candidate frames (plausible header, right length) whose CRC was wrong. */
  crcErrors = 0;

  constructor(private readonly direction: RtuDirection) {}

  /**
   * Only accept frames from this unit with this function (or its exception) and, for reads,
   * this byte count: a late reply to an earlier, different request is then stray, not data.
   */
  expectReply(unit: number, fc: number, byteCount?: number): void {
    this.expect = { unit, fc, byteCount };
  }

  clearExpectation(): void {
    this.expect = undefined;
  }

  /** Bytes held that may still become a frame. */
  get pending(): number {
    return this.buf.length;
  }

  /** Drops buffered bytes (counted as stray) and returns how many there were. */
  reset(): number {
    const n = this.buf.length;
    this.strayBytes += n;
    this.buf = Buffer.alloc(0);
    return n;
  }

  push(chunk: Uint8Array): RtuFrame[] {
    this.buf = this.buf.length === 0 ? Buffer.from(chunk) : Buffer.concat([this.buf, chunk]);
    const frames: RtuFrame[] = [];
    for (;;) {
      const found = this.findFrame();
      if (!found) break;
      this.strayBytes += found.start;
      frames.push({ unit: this.buf[found.start]!, pdu: Buffer.from(this.buf.subarray(found.start + 1, found.end - 2)) });
      this.buf = this.buf.subarray(found.end);
    }
    this.dropDeadPrefix();
    return frames;
  }

  /** Whether a frame starting at `i` can (still) be the expected one, given the bytes so far. */
  private couldMatch(i: number): boolean {
    const e = this.expect;
    if (!e) return true;
    const b = this.buf;
    if (b[i] !== e.unit) return false;
    if (i + 1 >= b.length) return true;
    const fc = b[i + 1]!;
    if (fc === (e.fc | 0x80)) return true;
    if (fc !== e.fc) return false;
    return i + 2 >= b.length || e.byteCount === undefined || fc > 4 || b[i + 2] === e.byteCount;
  }

  private matches(i: number): boolean {
    if (!this.expect) return true;
    const fc = this.buf[i + 1]!;
    if (this.buf[i] !== this.expect.unit) return false;
    if (fc === (this.expect.fc | 0x80)) return true;
    if (fc !== this.expect.fc) return false;
    return this.expect.byteCount === undefined || fc > 4 || this.buf[i + 2] === this.expect.byteCount;
  }

  private findFrame(): { start: number; end: number } | undefined {
    for (let i = 0; i + 4 <= this.buf.length; i++) {
      const len = frameLength(this.buf, i, this.direction);
      if (len <= 0 || i + len > this.buf.length) continue;
      if (this.matches(i) && crcValid(this.buf, i, i + len)) return { start: i, end: i + len };
    }
    return undefined;
  }

  /** Discards leading bytes at which no frame can start any more. */
  private dropDeadPrefix(): void {
    let i = 0;
    while (i < this.buf.length) {
      const len = frameLength(this.buf, i, this.direction);
      const wanted = this.couldMatch(i);
      if (wanted && (len === 0 || (len > 0 && i + len > this.buf.length))) break; // could still complete
      if (wanted && len > 0) this.crcErrors++; // complete, plausible, but failed CRC
      i++;
    }
    if (i > 0) {
      this.strayBytes += i;
      this.buf = this.buf.subarray(i);
    }
  }
}
