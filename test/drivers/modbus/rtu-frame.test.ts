import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { crc16, crcValid, withCrc } from '../../../drivers/modbus/crc.js';
import { RtuFrameDecoder, type RtuDirection } from '../../../drivers/modbus/rtu-frame.js';

/** A well-formed read reply for `unit`: fc 3 with n registers. */
const readReply = fc
  .record({ unit: fc.integer({ min: 1, max: 247 }), fcode: fc.constantFrom(1, 2, 3, 4), data: fc.uint8Array({ minLength: 0, maxLength: 250 }) })
  .map(({ unit, fcode, data }) => withCrc(Buffer.concat([Buffer.from([unit, fcode, data.length]), data])));

/** Splits bytes into chunks at arbitrary points, as a serial driver delivers them. */
function chunked(bytes: Uint8Array, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const p of [...points, bytes.length]) {
    out.push(Buffer.from(bytes.subarray(prev, p)));
    prev = p;
  }
  return out;
}

describe('crc16', () => {
  it('matches the Modbus reference value', () => {
    // Read holding registers, unit 1, address 0, count 10: 01 03 00 00 00 0A C5 CD
    const frame = Buffer.from([1, 3, 0, 0, 0, 10]);
    expect(crc16(frame)).toBe(0xcdc5);
    expect(withCrc(frame).toString('hex')).toBe('01030000000ac5cd');
    expect(crcValid(Buffer.from('01030000000ac5cd', 'hex'))).toBe(true);
  });
});

describe('RtuFrameDecoder (property-based)', () => {
  it('never throws and never yields a frame without a valid CRC, whatever the bytes', () => {
    fc.assert(
      fc.property(fc.constantFrom<RtuDirection>('request', 'response'), fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 8 }), (dir, chunks) => {
        const d = new RtuFrameDecoder(dir);
        for (const c of chunks) {
          for (const f of d.push(c)) {
            expect(crcValid(withCrc(Buffer.concat([Buffer.from([f.unit]), f.pdu])))).toBe(true); // sanity of re-encoding
            // The frame as it was on the wire must carry a valid CRC: re-find it in the input.
            const all = Buffer.concat(chunks);
            const body = Buffer.concat([Buffer.from([f.unit]), f.pdu]);
            const at = all.indexOf(body);
            expect(at).toBeGreaterThanOrEqual(0);
            expect(crcValid(all, at, at + body.length + 2)).toBe(true);
          }
          expect(d.pending).toBeLessThanOrEqual(256);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('yields every valid frame exactly once however it is split into chunks', () => {
    fc.assert(
      fc.property(fc.array(readReply, { minLength: 1, maxLength: 5 }), fc.array(fc.nat(), { maxLength: 10 }), (frames, cuts) => {
        const d = new RtuFrameDecoder('response');
        const got = chunked(Buffer.concat(frames), cuts).flatMap((c) => d.push(c));
        expect(got.map((f) => withCrc(Buffer.concat([Buffer.from([f.unit]), f.pdu])).toString('hex'))).toEqual(frames.map((f) => f.toString('hex')));
        expect(d.strayBytes).toBe(0);
      }),
    );
  });

  it('resynchronises after garbage: the frame that follows is found, stray bytes counted', () => {
    fc.assert(
      fc.property(readReply, fc.uint8Array({ minLength: 1, maxLength: 64 }), fc.array(fc.nat(), { maxLength: 6 }), (frame, garbage, cuts) => {
        const unit = frame[0]!;
        const d = new RtuFrameDecoder('response');
        d.expectReply(unit, frame[1]!, frame[2]!);
        // Garbage without the expected unit id cannot hide a competing frame start.
        const junk = Buffer.from(garbage.map((b) => (b === unit ? b ^ 0x80 : b)));
        const got = chunked(Buffer.concat([junk, frame]), cuts).flatMap((c) => d.push(c));
        expect(got).toHaveLength(1);
        expect(withCrc(Buffer.concat([Buffer.from([got[0]!.unit]), got[0]!.pdu])).equals(frame)).toBe(true);
        expect(d.strayBytes).toBe(junk.length);
        expect(d.pending).toBe(0);
      }),
    );
  });

  it('resynchronises after arbitrary garbage when the garbage holds no valid frame', () => {
    fc.assert(
      fc.property(readReply, fc.uint8Array({ minLength: 1, maxLength: 40 }), (frame, garbage) => {
        const probe = new RtuFrameDecoder('response');
        fc.pre(probe.push(garbage).length === 0);
        const d = new RtuFrameDecoder('response');
        const got = [...d.push(garbage), ...d.push(frame)];
        // Whatever else it found (only valid-CRC frames), the real frame is the last one.
        expect(got.length).toBeGreaterThanOrEqual(1);
        expect(withCrc(Buffer.concat([Buffer.from([got.at(-1)!.unit]), got.at(-1)!.pdu])).equals(frame)).toBe(true);
      }),
    );
  });

  it('discards a partial frame once a complete one follows it', () => {
    const good = withCrc(Buffer.from([1, 3, 2, 0x12, 0x34]));
    const partial = good.subarray(0, 3);
    const d = new RtuFrameDecoder('response');
    d.expectReply(1, 3, 2);
    expect(d.push(partial)).toEqual([]);
    const got = d.push(good);
    expect(got).toHaveLength(1);
    expect(got[0]!.pdu.toString('hex')).toBe('03021234');
  });

  it('counts a complete frame with a bad CRC and yields nothing for it', () => {
    const bad = withCrc(Buffer.from([7, 4, 2, 0, 1]));
    bad[bad.length - 1]! ^= 0xff;
    const d = new RtuFrameDecoder('response');
    d.expectReply(7, 4, 2);
    expect(d.push(bad)).toEqual([]);
    expect(d.crcErrors).toBe(1);
    expect(d.pending).toBe(0);
  });

  it('frames requests of every supported function on the slave side', () => {
    const d = new RtuFrameDecoder('request');
    const reqs = [
      withCrc(Buffer.from([1, 3, 0, 0, 0, 10])),
      withCrc(Buffer.from([2, 16, 0, 1, 0, 2, 4, 0, 1, 0, 2])),
      withCrc(Buffer.from([3, 15, 0, 0, 0, 9, 2, 0xff, 0x01])),
      withCrc(Buffer.from([4, 5, 0, 1, 0xff, 0])),
    ];
    expect(d.push(Buffer.concat(reqs)).map((f) => f.unit)).toEqual([1, 2, 3, 4]);
  });
});
