import { describe, expect, it } from 'vitest';
import { decodeWireMessage } from '../../../agent/core/wire.js';
import { meterUnits, packMessage } from '../../../agent/forwarder/packer.js';
import type { PackInput } from '../../../agent/forwarder/packer.js';

function records(n: number, from = 1, pad = 0): PackInput[] {
  return Array.from({ length: n }, (_, i) => {
    const seq = from + i;
    return { seq, kind: 'reading', json: JSON.stringify({ seq, kind: 'reading', t: seq, at: seq, src: 's', pt: 'p'.repeat(pad + 1), v: seq, q: 'good' }) };
  });
}

describe('packMessage', () => {
  const opts = { device: 'gw-1', boot: 'b-1', maxBytes: 4096 };

  it('produces a valid wire message holding a seq-ordered prefix of the records', () => {
    const input = records(500);
    const msg = packMessage(input, opts);
    expect(msg.full).toBe(true);
    expect(msg.body.length).toBeLessThanOrEqual(4096);
    const decoded = decodeWireMessage(msg.body);
    expect(decoded.device).toBe('gw-1');
    expect(decoded.boot).toBe('b-1');
    expect(decoded.records.map((r) => r.seq)).toEqual(msg.seqs);
    expect(msg.seqs).toEqual(input.slice(0, msg.seqs.length).map((r) => r.seq));
    // Filled: the next record would not have fitted.
    expect(msg.body.length + input[msg.seqs.length]!.json.length + 1).toBeGreaterThan(4096);
  });

  it('sends everything when it fits and says it is not full', () => {
    const msg = packMessage(records(3, 10), opts);
    expect(msg.full).toBe(false);
    expect([msg.seqFrom, msg.seqTo]).toEqual([10, 12]);
    expect(msg.kind).toBe('reading');
  });

  it('lets one oversized record travel alone', () => {
    const big = records(2, 1, 5000);
    const msg = packMessage(big, opts);
    expect(msg.seqs).toEqual([1]);
    expect(msg.full).toBe(true);
  });

  it('reports mixed kinds', () => {
    const input: PackInput[] = [
      { seq: 1, kind: 'reading', json: '{"seq":1,"kind":"reading","t":1}' },
      { seq: 2, kind: 'result', json: '{"seq":2,"kind":"result","t":2}' },
    ];
    expect(packMessage(input, opts).kind).toBe('mixed');
  });

  it('with gzip, fills the compressed body rather than the JSON, and stays a valid message', () => {
    const input = records(20_000);
    const plain = packMessage(input, { ...opts, maxBytes: 16 * 1024 });
    const gz = packMessage(input, { ...opts, maxBytes: 16 * 1024, compress: true });
    expect(gz.compressed).toBe(true);
    expect(gz.body.length).toBeLessThanOrEqual(16 * 1024);
    expect(gz.seqs.length).toBeGreaterThan(plain.seqs.length * 2);
    expect(gz.ratio).toBeGreaterThan(2);
    const decoded = decodeWireMessage(gz.body, 'gzip');
    expect(decoded.records.map((r) => r.seq)).toEqual(gz.seqs);
    expect(gz.seqs[0]).toBe(1);
    // A bold ratio hint is corrected: still within the limit.
    const bold = packMessage(input, { ...opts, maxBytes: 8 * 1024, compress: true, ratioHint: 500 });
    expect(bold.body.length).toBeLessThanOrEqual(8 * 1024);
  });

  it('counts billed 4 KB units', () => {
    expect([1, 4096, 4097, 8192, 256 * 1024].map(meterUnits)).toEqual([1, 1, 2, 2, 64]);
  });
});
