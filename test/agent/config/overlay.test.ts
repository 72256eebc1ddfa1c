import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { agentConfigSchema } from '../../../agent/config/schema.js';
import { parseConfig } from '../../../agent/config/load.js';
import { applyMergePatch, overlayDesired } from '../../../agent/config/overlay.js';

const file = parseConfig(
  {
    hub: { connectionString: 'HostName=h;DeviceId=d;SharedAccessKey=AAAA' },
    dataDir: '/tmp/x',
    forwarding: { lingerMs: 100, maxInFlight: 2 },
    drivers: [{ type: 'synthetic', name: 'sim', source: 's', points: [{ name: 'p' }] }],
  },
  'test',
);
const limits = { maxBytes: 32 * 1024 };

describe('overlayDesired', () => {
  it('merges objects key by key and validates the whole result', () => {
    const r = overlayDesired(file, { $version: 3, forwarding: { lingerMs: 500 } }, limits);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.config.forwarding.lingerMs).toBe(500);
    expect(r.config.forwarding.maxInFlight).toBe(2);
    expect(r.config.drivers).toEqual(file.drivers);
  });

  it.each([
    ['wrong type', { forwarding: { lingerMs: 'fast' } }, 'forwarding.lingerMs', /number/],
    ['unknown key', { forwarding: { lingerMS: 5 } }, 'forwarding', /lingerMS/],
    ['unknown section', { colour: 'red' }, 'colour', /unknown setting/],
    ['file-only section', { hub: { connectionString: 'x' } }, 'hub', /local config file/],
    ['file-only storage setting', { storage: { writeBufferBytes: 8 * 1024 * 1024 } }, 'storage.writeBufferBytes', /local config file/],
    ['null', { forwarding: { lingerMs: null } }, 'forwarding.lingerMs', /null/],
    ['query that does not parse', { analytics: { queries: [{ name: 'q', query: 'SELEC x FROM' }] } }, 'analytics.queries.0.query', /./],
    ['keep-alive above 60 s', { forwarding: { keepAliveSeconds: 180 } }, 'forwarding.keepAliveSeconds', /60/],
  ])('refuses %s, naming the path', (_name, desired, path, message) => {
    const r = overlayDesired(file, desired as Record<string, unknown>, limits);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.reason.path).toBe(path);
    expect(r.reason.message).toMatch(message);
  });

  it('refuses an oversized or too deeply nested document', () => {
    const big = overlayDesired(file, { log: { level: 'x'.repeat(40_000) } }, limits);
    expect(big).toMatchObject({ ok: false, reason: { path: '(root)', message: expect.stringMatching(/bytes/) } });
    let deep: Record<string, unknown> = { v: 1 };
    for (let i = 0; i < 11; i++) deep = { a: deep };
    expect(overlayDesired(file, { analytics: deep }, limits)).toMatchObject({ ok: false, reason: { message: expect.stringMatching(/deeper/) } });
  });

  it('accepts a query that compiles', () => {
    const r = overlayDesired(file, { analytics: { queries: [{ name: 'avg1m', query: 'SELECT point, AVG(value) AS avg FROM readings GROUP BY point, TumblingWindow(minute, 1)' }] } }, limits);
    expect(r.ok).toBe(true);
  });
});

describe('applyMergePatch', () => {
  it('deletes on null and merges objects', () => {
    expect(applyMergePatch({ a: { b: 1, c: 2 }, d: 1 }, { a: { b: null, e: 3 }, d: null })).toEqual({ a: { c: 2, e: 3 } });
  });
});

describe('overlayDesired, fuzzed', () => {
  it('never throws; a success is always a complete valid config, a refusal always names a path and a reason', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.constantFrom('forwarding', 'log', 'analytics', 'drivers', 'twin', 'hub', '$version', 'x'), fc.jsonValue({ maxDepth: 12 }), { maxKeys: 4 }), (desired) => {
        const r = overlayDesired(file, desired, { maxBytes: 4096 });
        if (r.ok) expect(agentConfigSchema.safeParse(r.config).success).toBe(true);
        else {
          expect(r.reason.path.length).toBeGreaterThan(0);
          expect(r.reason.message.length).toBeGreaterThan(0);
        }
      }),
      { numRuns: 500 },
    );
  });
});
