import { afterEach, describe, expect, it } from 'vitest';
import { decodeWireMessage } from '../../agent/core/wire.js';
import type { EdgeAgent } from '../../agent/runtime/edge-agent.js';
import type { IotHubEmulator } from '../../cloud/iothub/index.js';
import { startTestAgent } from '../support/agent.js';
import { allEvents, recordsOf, startHub, untilTelemetry } from '../support/hub.js';
import { tempDir } from '../support/tmp.js';

/** Resolves once `predicate` holds, re-checked at every refused reconnect. */
function untilRefusals(hub: IotHubEmulator, predicate: (refusals: number) => boolean): Promise<number> {
  let refusals = 0;
  return new Promise((resolve) => {
    const onRefused = () => {
      refusals++;
      if (!predicate(refusals)) return;
      hub.off('refused', onRefused);
      resolve(refusals);
    };
    hub.on('refused', onRefused);
  });
}

/** Messages of the device in log order, as [seqFrom, seqTo]. */
async function messageRanges(hub: IotHubEmulator, device: string): Promise<Array<[number, number]>> {
  return (await allEvents(hub))
    .filter((e) => e.deviceId === device)
    .sort((a, b) => a.enqueuedTime - b.enqueuedTime || a.sequenceNumber - b.sequenceNumber)
    .map((e) => {
      const seqs = decodeWireMessage(e.body, e.systemProperties['content-encoding']).records.map((r) => r.seq);
      return [Math.min(...seqs), Math.max(...seqs)];
    });
}

async function outage(hub: IotHubEmulator, agent: EdgeAgent, device: string, until: (refusals: number) => boolean) {
  await untilTelemetry(hub, async () => (await recordsOf(hub, device)).length >= 100);
  const deliveredBefore = Math.max(...(await recordsOf(hub, device)).map((r) => r.seq));
  hub.faults.refuseConnections({ mode: 'server-unavailable' });
  hub.faults.dropConnection(device);
  await untilRefusals(hub, (n) => until(n) && agent.stats().outboxDepth >= 300);
  // Ten messages' worth waits, but at most one is packed in memory for the link (maxInFlight is 4).
  expect(agent.stats().forwarder.inFlight).toBeLessThanOrEqual(1);
  hub.faults.acceptConnections();
  const heldAtRecovery = agent.stats().nextSeq - 1;
  await untilTelemetry(hub, async () => (await recordsOf(hub, device)).length >= heldAtRecovery + 200);
  await agent.stop(10_000);
  return { deliveredBefore, heldAtRecovery };
}

describe('outages against the emulator: recovery in the same process, live data first', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function setup(device: string) {
    const { hub, close } = await startHub();
    cleanups.push(close);
    const dev = await hub.registerDevice(device);
    const data = tempDir('outage');
    cleanups.push(data.cleanup);
    const { agent, transport } = await startTestAgent({
      connectionString: dev.connectionString,
      deviceId: device,
      ca: hub.caPem,
      dataDir: data.path,
      intervalMs: 5,
      points: 3,
      forwarding: { maxMessageBytes: 4096, lingerMs: 20, retryInitialMs: 20, retryMaxMs: 100, backlogShare: 0.25 },
    });
    return { hub, agent, transport };
  }

  it('a short blip: the first message after it is live, each lane in seq order, no gaps', async () => {
    const { hub, agent } = await setup('blip-gw');
    const { deliveredBefore, heldAtRecovery } = await outage(hub, agent, 'blip-gw', (n) => n >= 2);

    const after = (await messageRanges(hub, 'blip-gw')).filter(([from]) => from > deliveredBefore);
    // Records staged since the link came back are live; what waited through the outage is backlog.
    const liveFrom = agent.stats().forwarder.liveFrom;
    expect(liveFrom).toBeGreaterThan(deliveredBefore + 200);
    const backlog = after.filter(([, to]) => to < liveFrom);
    const live = after.filter(([from]) => from >= liveFrom);
    expect(backlog.length).toBeGreaterThan(0);
    for (const lane of [backlog, live]) for (let i = 1; i < lane.length; i++) expect(lane[i]![0]).toBeGreaterThan(lane[i - 1]![1]);
    // Live first: live messages went out before the backlog had drained, not after it.
    const lastBacklogAt = after.indexOf(backlog.at(-1)!);
    const liveBeforeThen = after.slice(0, lastBacklogAt).filter(([from]) => from >= liveFrom).length;
    expect(liveBeforeThen).toBeGreaterThan(0);

    const seqs = new Set((await recordsOf(hub, 'blip-gw')).map((r) => r.seq));
    expect(seqs.size).toBe(Math.max(...seqs));
    expect(seqs.size).toBeGreaterThanOrEqual(heldAtRecovery);
  });

  it('an outage far past the SDK’s own give-up (60 refused reconnects): recovers without a restart, nothing missing', async () => {
    const { hub, agent, transport } = await setup('long-gw');
    await outage(hub, agent, 'long-gw', (n) => n >= 60);
    const stats = agent.stats();
    const seqs = new Set((await recordsOf(hub, 'long-gw')).map((r) => r.seq));
    expect(seqs.size).toBe(Math.max(...seqs));
    expect(seqs.size).toBe(stats.readings);
    expect(transport.status().totals.failures).toBeGreaterThanOrEqual(60);
  });
});
