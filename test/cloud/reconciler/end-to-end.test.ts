import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from 'azure-iot-device';
import { afterAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../agent/core/clock.js';
import type { WireRecord } from '../../../agent/core/wire.js';
import { IotHubEmulator } from '../../../cloud/iothub/index.js';
import { Reconciler, MessageLogSource, hubMethodInvoker } from '../../../cloud/reconciler/index.js';
import { expectStoreMatchesTruth } from './support/compare.js';
import { settle } from './support/drive.js';
import { groundTruth, type AgentState } from './support/scenario.js';
import { answerResend, connectSdkDevice, sendWire, untilSubscribed } from './support/sdk-device.js';
import { allStores, type StoreFactory } from './support/stores.js';
import { AgentScript, packMessage } from './support/wire-builder.js';

const GRACE = 30_000;

function e2eSuite(stores: StoreFactory): void {
  describe(`end to end through the emulator and the device SDK, ${stores.name}`, () => {
    afterAll(() => stores.cleanup());

    it('a device that skipped messages resends on request; what it evicted is closed as lost', async () => {
      const dir = await mkdtemp(join(tmpdir(), 'reconciler-e2e-'));
      const hub = await IotHubEmulator.start({ dataDir: dir });
      const clients: Client[] = [];
      const store = await stores.create();
      try {
        const agent: AgentState = { script: new AgentScript('e2e-1', 'boot-a'), evicted: new Set() };
        const windows: Array<{ we: number; rev: number }> = [];
        for (let i = 0; i < 80; i++) {
          if (i === 50) agent.script.reboot('boot-b');
          const t = Date.UTC(2026, 10, 1) + i * 10_000;
          if (i % 3 === 0) {
            windows.push({ we: t, rev: 0 });
            agent.script.result({ query: 'avg', out: 'o', key: '{"line":1}', ws: t - 30_000, we: t, rev: 0, row: { avg: i } });
          } else if (i % 10 === 5) {
            const w = windows[Math.floor(windows.length / 2)]!;
            agent.script.result({ query: 'avg', out: 'o', key: '{"line":1}', ws: w.we - 30_000, we: w.we, rev: ++w.rev, row: { avg: -i } });
          } else {
            agent.script.reading({ t, at: t + 3, src: 'sim', pt: 'temp', v: i / 2, q: 'good', u: 'degC' });
          }
        }
        const messages: WireRecord[][] = [];
        const sent = agent.script.sent;
        for (let i = 0; i < sent.length; i += 5) messages.push(sent.slice(i, i + 5).map((s) => s.record));
        // Seqs 41–45 are evicted before they were ever sent: the device can only say so.
        for (const r of messages[8]!) agent.evicted.add(r.seq);
        const bootOf = (records: WireRecord[]) => sent.find((s) => s.record.seq === records.at(-1)!.seq)!.boot;

        const client = await connectSdkDevice(hub, 'e2e-1');
        clients.push(client);
        const calls: Array<{ fromSeq: number; toSeq: number }> = [];
        answerResend(client, agent, calls);
        await untilSubscribed(hub, 'e2e-1', 'methods');

        // Messages 3 and 4 (seqs 16–25) were not delivered; 6 goes before 5; 1 goes twice; every other one gzipped.
        const order = [0, 1, 1, 2, 6, 5, 7, 9, 10, 11, 12, 13, 14, 15];
        expect(messages).toHaveLength(16);
        for (const [k, i] of order.entries()) await sendWire(client, packMessage('e2e-1', bootOf(messages[i]!), messages[i]!), k % 2 === 1);

        const clock = new ManualClock(Date.UTC(2026, 11, 1));
        const reconciler = new Reconciler({
          source: new MessageLogSource(hub.messageLog),
          store,
          methods: hubMethodInvoker(hub),
          clock,
          resend: { graceMs: GRACE, retryMs: GRACE * 2, timeoutMs: 10_000 },
        });
        await reconciler.runOnce();
        expect((await store.gaps()).map((g) => [g.from, g.to, g.state])).toEqual([
          [16, 25, 'open'],
          [41, 45, 'open'],
        ]);
        await settle(reconciler, clock, GRACE);

        expect(calls).toEqual([
          { fromSeq: 16, toSeq: 25 },
          { fromSeq: 41, toSeq: 45 },
        ]);
        await expectStoreMatchesTruth(store, groundTruth(new Map([['e2e-1', agent]])));
        expect(await store.gaps()).toMatchObject([{ device: 'e2e-1', from: 41, to: 45, size: 5, state: 'lost' }]);
        const [device] = await store.devices();
        expect(device).toMatchObject({ boot: 'boot-b', boots: 2, maxSeq: 80, records: 75, duplicates: 5, lostRecords: 5, clockSkewed: false });
      } finally {
        for (const c of clients) await c.close().catch(() => undefined);
        await store.close();
        await hub.stop();
        await rm(dir, { recursive: true, force: true });
      }
    });
  });
}

for (const stores of allStores()) e2eSuite(stores);
