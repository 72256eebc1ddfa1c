import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AgentStore } from '../../agent/store/store.js';
import { Outbox } from '../../agent/outbox/outbox.js';
import { recordsOf, untilTelemetry } from '../support/hub.js';
import { startCliAgent, type RunningCliAgent } from '../agent/diagnostics/running-agent.js';
import { untilStatus } from '../support/status.js';

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
    // With a query the journal goes through the analytics stage; its state is committed with the cursor.
    { name: 'analytics in the pipeline', deviceId: 'term-asa', holdAcks: false, sendTimeoutMs: 30_000, analytics: true },
  ];
  it.each(cases)('$name: stops within the flush timeout and loses nothing', { timeout: 90_000 }, async ({ deviceId, holdAcks, sendTimeoutMs, analytics }) => {
    const flushTimeoutMs = 1000;
    a = await startCliAgent({ deviceId, intervalMs: 1, points: 200, flushTimeoutMs, config: {
        forwarding: { lingerMs: 20, retryInitialMs: 50, retryMaxMs: 200, sendTimeoutMs },
        ...(analytics ? { analytics: { queries: [{ name: 'avg1s', query: 'SELECT source, point, AVG(value) AS avg FROM readings TIMESTAMP BY appTime GROUP BY source, point, TumblingWindow(second, 1)' }], tolerances: { lateArrivalMs: 0 } } } : {}),
      },
    });
    const hub = a.hub;
    // Ingest under way and the hub receiving: stop in the middle of it.
    await untilTelemetry(hub, async () => {
      const records = await recordsOf(hub, deviceId);
      return records.length >= 5000 && (!analytics || records.some((r) => r.kind === 'result'));
    });
    if (holdAcks) {
      hub.faults.holdAcks(deviceId);
      // Until the buffer holds a real backlog (readings keep coming, nothing is acknowledged).
      await untilStatus(a.socketPath, (s) => s.buffer.unsentRecords >= 5000, 60_000, '5,000 unsent records');
    }
    const t0 = performance.now();
    const end = await a.stop();
    const shutdownMs = performance.now() - t0;
    expect(end.code, end.stderr).toBe(0);
    const stopped = /"ms":(\d+),"readings":(\d+),"outbox":(\d+),"nextSeq":(\d+),"msg":"stopped"/.exec(end.stdout);
    expect(stopped, end.stdout.slice(-2000)).not.toBeNull();
    const accepted = Number(stopped![2]);

    const kindOf = new Map<number, string>();
    const hubRecords = await recordsOf(hub, deviceId);
    for (const r of hubRecords) kindOf.set(r.seq, r.kind);
    const inHub = new Set(hubRecords.map((r) => r.seq));
    const store = await AgentStore.open(join(a.dir, 'data', 'buffer'));
    const outbox = new Outbox(store);
    await outbox.init();
    const pending = await outbox.read(0, Number.MAX_SAFE_INTEGER);
    await store.close();
    for (const r of pending) kindOf.set(r.seq, r.kind);
    const onDisk = new Set(pending.map((r) => r.seq));
    await a.cleanup();
    a = undefined;

    // Every seq the agent handed out is in the hub or on disk, none beyond.
    const lastSeq = Number(stopped![4]) - 1;
    const missing: number[] = [];
    for (let seq = 1; seq <= lastSeq; seq++) if (!inHub.has(seq) && !onDisk.has(seq)) missing.push(seq);
    expect(missing.slice(0, 20), `${missing.length} of ${lastSeq} records are neither in the hub nor on disk`).toEqual([]);
    let highest = 0;
    for (const seq of [inHub, onDisk].flatMap((set) => [...set])) if (seq > highest) highest = seq;
    expect(highest).toBe(lastSeq);
    // …and they hold every accepted reading: one reading record per reading.
    const readingSeqs = [...kindOf].filter(([, k]) => k === 'reading').length;
    expect(readingSeqs).toBe(accepted);
    if (analytics) expect([...kindOf.values()].some((k) => k === 'result')).toBe(true);
    else expect(lastSeq).toBe(accepted);
    expect(onDisk.size).toBe(Number(stopped![3]));
    if (holdAcks) expect(onDisk.size).toBeGreaterThanOrEqual(5000);
    // The bound TimeoutStopSec is set from: flush timeout, a held send's timeout, closing (≤ 2 s).
    expect(shutdownMs).toBeLessThan(flushTimeoutMs + (holdAcks ? sendTimeoutMs : 0) + 3000);
    const startedAt = Number(/"time":(\d+),[^\n]*"msg":"edge-agent started"/.exec(end.stdout)![1]);
    const ingestSeconds = (Date.now() - startedAt) / 1000;
    console.log(
      `sigterm (${deviceId}): ${accepted} readings accepted (~${Math.round(accepted / ingestSeconds)}/s), ${inHub.size} in the hub, ${onDisk.size} left on disk, ` +
        `stop took ${Math.round(shutdownMs)} ms (agent: ${stopped![1]} ms)` +
        (/kept the process alive/.test(end.stdout) ? `; exit forced 2 s later: ${/"handles":(\[[^\]]*\])/.exec(end.stdout)?.[1] ?? '?'}` : ''),
    );
  });
});
