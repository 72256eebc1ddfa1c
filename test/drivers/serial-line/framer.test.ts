import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LineFramer } from '../../../drivers/serial-line/framer.js';

describe('LineFramer', () => {
  it('splits at the delimiter, drops CR and empty lines, keeps a partial line for later', () => {
    const f = new LineFramer();
    expect(f.push(Buffer.from('a,1\r\nb,2\n\npart'))).toEqual(['a,1', 'b,2']);
    expect(f.pending).toBe(4);
    expect(f.push(Buffer.from('ial\n'))).toEqual(['partial']);
  });

  it('handles a multi-byte delimiter split across chunks', () => {
    const f = new LineFramer('\r\n');
    expect([...f.push(Buffer.from('x=1\r')), ...f.push(Buffer.from('\ny=2\r\n'))]).toEqual(['x=1', 'y=2']);
  });

  it('drops an overlong line whole, never its tail as a line of its own', () => {
    const f = new LineFramer('\n', 16);
    expect(f.push(Buffer.from('x'.repeat(40)))).toEqual([]);
    expect(f.pending).toBeLessThanOrEqual(16);
    expect(f.push(Buffer.from('tail-of-long\nok\n'))).toEqual(['ok']);
    expect(f.overlong).toBe(1);
  });

  it('yields the same lines however the stream is chunked (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.stringMatching(/^[ -~]{1,30}$/), { maxLength: 10 }), fc.array(fc.nat(), { maxLength: 8 }), (lines, cuts) => {
        const text = Buffer.from(lines.map((l) => l + '\n').join(''), 'latin1');
        const points = [...new Set(cuts.map((c) => c % (text.length + 1)))].sort((a, b) => a - b);
        const f = new LineFramer();
        const got: string[] = [];
        let prev = 0;
        for (const p of [...points, text.length]) {
          got.push(...f.push(text.subarray(prev, p)));
          prev = p;
        }
        expect(got).toEqual(lines.map((l) => l.replace(/\r$/, '')).filter((l) => l.length > 0));
      }),
    );
  });
});
