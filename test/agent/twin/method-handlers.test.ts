import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../agent/core/clock.js';
import { EdgeError } from '../../../agent/core/errors.js';
import { methodHandlers } from '../../../agent/methods/handlers.js';

function handlers(resend = async (from: number, to: number) => ({ resent: to - from + 1, evicted: [] as Array<{ fromSeq: number; toSeq: number }> })) {
  const restarted: string[] = [];
  const h = methodHandlers({
    clock: new ManualClock(5000),
    agentVersion: '1.2.3',
    boot: () => 'b',
    startedAt: () => 1000,
    health: () => ({ ok: true }),
    resend,
    driverNames: () => ['plc'],
    restartDriver: async (name) => {
      restarted.push(name);
      return { state: 'running' };
    },
  });
  return { h, restarted };
}

describe('direct method handlers', () => {
  it('ping and getHealth', async () => {
    const { h } = handlers();
    expect(await h.ping!(null)).toEqual({ status: 200, payload: { pong: true, at: new Date(5000).toISOString(), agentVersion: '1.2.3', boot: 'b', uptimeMs: 4000 } });
    expect(await h.getHealth!(null)).toEqual({ status: 200, payload: { ok: true } });
  });

  it.each([null, {}, { fromSeq: 0, toSeq: 3 }, { fromSeq: 3, toSeq: 2 }, { fromSeq: 1.5, toSeq: 2 }, { fromSeq: '1', toSeq: '2' }, [1, 2]])('resend refuses %j with 400', async (payload) => {
    const { h } = handlers();
    expect(await h.resend!(payload)).toMatchObject({ status: 400, payload: { error: { code: 'EDGE_USAGE' } } });
  });

  it('resend answers what the outbox did; a failure is a 500 with its code, never a throw', async () => {
    expect(await handlers().h.resend!({ fromSeq: 3, toSeq: 7 })).toEqual({ status: 200, payload: { fromSeq: 3, toSeq: 7, resent: 5, evicted: [] } });
    const broken = handlers(async () => {
      throw new EdgeError('EDGE_STORE_CORRUPT', 'bad');
    });
    expect(await broken.h.resend!({ fromSeq: 1, toSeq: 1 })).toMatchObject({ status: 500, payload: { error: { code: 'EDGE_STORE_CORRUPT' } } });
  });

  it('restartDriver by name; unknown is 404, missing name 400', async () => {
    const { h, restarted } = handlers();
    expect(await h.restartDriver!({ name: 'plc' })).toMatchObject({ status: 200, payload: { name: 'plc', restarted: true } });
    expect(await h.restartDriver!('plc')).toMatchObject({ status: 200 });
    expect(await h.restartDriver!({ name: 'x' })).toMatchObject({ status: 404 });
    expect(await h.restartDriver!({})).toMatchObject({ status: 400 });
    expect(restarted).toEqual(['plc', 'plc']);
  });
});
