import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHttpApi, type HttpApi, type ReconcilerStore } from '../../../cloud/reconciler/index.js';
import { sqliteStores } from './support/stores.js';

describe('read-only HTTP JSON API', () => {
  const stores = sqliteStores();
  let store: ReconcilerStore;
  let api: HttpApi;

  beforeAll(async () => {
    store = await stores.create();
    await store.migrate();
    const row = { out: 'o', key: '{}', ws: 0, rev: 0, row: { n: 1 }, enqueuedTime: 5 };
    await store.commit({
      source: 's',
      checkpoints: [],
      results: [
        { ...row, device: 'a', query: 'q1', we: 60_000, seq: 1 },
        { ...row, device: 'b', query: 'q1', we: 120_000, seq: 1 },
        { ...row, device: 'a', query: 'q2', we: 180_000, seq: 2 },
      ],
      readings: [],
      events: [],
      devices: [
        {
          device: 'a',
          boot: 'x',
          boots: 1,
          maxSeq: 9,
          records: 6,
          duplicates: 0,
          lostRecords: 1,
          firstEnqueued: 1,
          lastEnqueued: 2,
          clockAheadMs: 0,
          clockSkewed: false,
          gaps: [
            { from: 3, to: 3, state: 'lost', openedAt: 1, requestedAt: 1, attempts: 1, closedAt: 2 },
            { from: 6, to: 7, state: 'open', openedAt: 1, requestedAt: null, attempts: 0, closedAt: null },
          ],
        },
      ],
    });
    api = await startHttpApi(store, { port: 0 });
  });
  afterAll(async () => {
    await api.close();
    await store.close();
    await stores.cleanup();
  });

  const get = async (path: string, init?: RequestInit) => {
    const res = await fetch(api.url + path, init);
    return { status: res.status, type: res.headers.get('content-type'), body: (await res.json()) as Record<string, unknown> };
  };

  it('GET /results with the same filters as the CLI', async () => {
    const all = await get('/results');
    expect(all.status).toBe(200);
    expect(all.type).toMatch(/^application\/json/);
    expect((all.body.results as unknown[]).length).toBe(3);
    const some = await get(`/results?device=a&from=${new Date(100_000).toISOString()}`);
    expect(some.body.results).toMatchObject([{ device: 'a', query: 'q2', we: 180_000 }]);
    expect((await get('/results?query=q1&to=60000')).body.results).toMatchObject([{ device: 'a', we: 60_000 }]);
  });

  it('GET /gaps and /devices (with contiguous seq and open gap count)', async () => {
    expect((await get('/gaps')).body.gaps).toMatchObject([
      { device: 'a', from: 3, to: 3, size: 1, state: 'lost' },
      { device: 'a', from: 6, to: 7, size: 2, state: 'open' },
    ]);
    expect((await get('/devices')).body.devices).toMatchObject([{ device: 'a', contiguousSeq: 5, openGaps: 1, lostRecords: 1 }]);
  });

  it('answers bad requests with a status and a JSON error', async () => {
    expect(await get('/results?from=soon')).toMatchObject({ status: 400, body: { error: expect.stringMatching(/from must be/) } });
    expect(await get('/nothing')).toMatchObject({ status: 404 });
    expect(await get('/results', { method: 'POST', body: '{}' })).toMatchObject({ status: 405 });
  });
});
