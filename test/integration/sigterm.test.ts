import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AgentStore } from '../../agent/store/store.js';
import { Outbox } from '../../agent/outbox/outbox.js';
import { recordsOf, untilTelemetry } from '../support/hub.js';
import { startCliAgent, type RunningCliAgent } from '../agent/diagnostics/running-agent.js';
import { request } from '../../agent/diagnostics/client.js';
import type { StatusReport } from '../../agent/diagnostics/handlers/status.js';

/**
 * `edge-agent run` as systemd runs it, at full synthetic rate, stopped by SIGTERM while readings
 * pour in and the hub is behind. Afterwards every reading the agent accepted is counted: in the
 * hub, or still in the on-disk buffer for the next start. Nothing else is allowed.
 */
describe('SIGTERM during full-rate ingest', () => {
  let a: RunningCliAgent | undefined;
  afterAll(async () => {
    await a?.cleanup();
  });

  const cases = [
    { name: 'hub keeping up', deviceId: 'term-gw', holdAcks: false, sendTimeoutMs: 30_000 },
    // A send whose ack never comes is held until sendTimeoutMs: TimeoutStopSec must cover
    // flush timeout + send timeout + closing (see config/edge-agent.service).
    { name: 'hub holding acks (a backlog on disk when the signal comes)', deviceId: 'term-held', holdAcks: true, sendTimeoutMs: 5000 },
  ];
  it.each(cases)('$name: stops within the flush timeout and loses nothing', { timeout: 90_000 }, async ({ deviceId, holdAcks, sendTimeoutMs }) => {
    const flushTimeoutMs = 1000;
    a = await startCliAgent({ deviceId, intervalMs: 1, points: 200, flushTimeoutMs, config: { forwarding: { lingerMs: 20, retryInitialMs: 50, retryMaxMs: 200, sendTimeoutMs } } });
    const hub = a.hub;
    // Ingest under way and the hub receiving: stop in the middle of it.
    await untilTelemetry(hub, async () => (await recordsOf(hub, deviceId)).length >= 5000);
    if (holdAcks) {
      hub.faults.holdAcks(deviceId);
      const socket = a.socketPath;
      // Until the buffer holds a real backlog (readings keep coming, nothing is acknowledged).
      for (;;) {
        const s = (await request(socket, 'status')) as StatusReport;
        if (s.buffer.unsentRecords >= 5000) break;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
    const t0 = performance.now();
    const end = await a.stop();
    const shutdownMs = performance.now() - t0;
    expect(end.code, end.stderr).toBe(0);
    const stopped = /"ms":(\d+),"readings":(\d+),"outbox":(\d+),"nextSeq":(\d+),"msg":"stopped"/.exec(end.stdout);
    expect(stopped, end.stdout.slice(-2000)).not.toBeNull();
    const accepted = Number(stopped![2]);

    const inHub = new Set((await recordsOf(hub, deviceId)).map((r) => r.seq));
    const store = await AgentStore.open(join(a.dir, 'data', 'buffer'));
    const outbox = new Outbox(store);
    await outbox.init();
    const onDisk = new Set((await outbox.read(0, Number.MAX_SAFE_INTEGER)).map((r) => r.seq));
    await store.close();
    await a.cleanup();
    a = undefined;

    const missing: number[] = [];
    for (let seq = 1; seq <= accepted; seq++) if (!inHub.has(seq) && !onDisk.has(seq)) missing.push(seq);
    expect(missing.slice(0, 20), `${missing.length} of ${accepted} accepted readings are neither in the hub nor on disk`).toEqual([]);
    // Nothing beyond what was accepted either: one seq per reading (no analytics queries here).
    expect(Math.max(...inHub, ...onDisk)).toBe(accepted);
    expect(onDisk.size).toBe(Number(stopped![3]));
    if (holdAcks) expect(onDisk.size).toBeGreaterThanOrEqual(5000);
    // The bound TimeoutStopSec is set from: flush timeout, a held send's timeout, closing (≤ 2 s).
    expect(shutdownMs).toBeLessThan(flushTimeoutMs + (holdAcks ? sendTimeoutMs : 0) + 3000);
    const startedAt = Number(/"time":(\d+),[^\n]*"msg":"edge-agent started"/.exec(end.stdout)![1]);
    const ingestSeconds = (Date.now() - startedAt) / 1000;
    console.log(
      `sigterm (${deviceId}): ${accepted} readings accepted (~${Math.round(accepted / ingestSeconds)}/s), ${inHub.size} in the hub, ${onDisk.size} left on disk, ` +
        `stop took ${Math.round(shutdownMs)} ms (agent: ${stopped![1]} ms)`,
    );
  });
});
