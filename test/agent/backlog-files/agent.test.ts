import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { readBacklogFile } from '../../../agent/core/backlog-file.js';
import { systemClock } from '../../../agent/core/clock.js';
import { silentLogger } from '../../../agent/core/logger.js';
import { decodeWireMessage } from '../../../agent/core/wire.js';
import { parseConfig } from '../../../agent/config/load.js';
import { EdgeAgent } from '../../../agent/runtime/edge-agent.js';
import { HubFileUpload } from '../../../agent/transport/file-upload.js';
import { SyntheticDriver } from '../../../drivers/synthetic/synthetic-driver.js';
import { testTransport } from '../../support/agent.js';
import { allEvents, recordsOf, startHub } from '../../support/hub.js';
import { tempDir } from '../../support/tmp.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('the agent with forwarding.backlogFiles (real agent, synthetic driver, SDK against the emulator)', () => {
  it('what waited through an outage leaves as files, what comes after as messages; status shows the files path; every seq arrives once', async () => {
    const { hub, close } = await startHub();
    cleanups.push(close);
    const dev = await hub.registerDevice('gw-files');
    const dir = tempDir('files-agent');
    cleanups.push(() => dir.cleanup());
    hub.faults.refuseConnections({ mode: 'server-unavailable' });
    const config = parseConfig(
      {
        hub: { connectionString: dev.connectionString },
        dataDir: dir.path,
        forwarding: { lingerMs: 20, retryInitialMs: 20, retryMaxMs: 100, sendTimeoutMs: 5000, connectTimeoutMs: 5000, compress: true, backlogFiles: { enabled: true, afterRecords: 300, fileRecords: 400 } },
      },
      'test config',
    );
    const transport = testTransport(dev.connectionString, hub.caPem, config);
    const driver = new SyntheticDriver({ name: 'synthetic', source: 'sim-1', intervalMs: 5, points: [{ name: 'p0', unit: 'C' }, { name: 'p1', unit: 'C' }], clock: systemClock });
    const fileUploader = new HubFileUpload({ link: transport, deviceId: 'gw-files', ca: hub.caPem, timeoutMs: 30_000, clock: systemClock, logger: silentLogger });
    const agent = await EdgeAgent.start({ config, deviceId: 'gw-files', drivers: [driver], transport, clock: systemClock, logger: silentLogger, fileUploader });
    let stopped = false;
    cleanups.push(async () => {
      if (!stopped) await agent.stop(0);
      await transport.close();
    });
    transport.start();
    await new Promise<void>((resolve) => {
      const off = agent.onAccepted(() => {
        if (agent.stats().outboxDepth < 1000) return;
        off();
        resolve();
      });
    });
    hub.faults.acceptConnections();
    // Files first, then live messages beside them.
    await new Promise<void>((resolve) => {
      const off = agent.onAccepted(() => {
        const s = agent.stats();
        if ((s.paths?.files?.files ?? 0) < 2 || s.forwarder.recordsAcked === 0) return;
        off();
        resolve();
      });
    });
    await agent.stop(30_000);
    stopped = true;
    const files = agent.stats().paths!.files!;
    expect(files).toMatchObject({ enabled: true, failures: 0 });
    // Most of the 1,000 that waited: the reservation grows while offline at each look (1 s apart).
    expect(files.records).toBeGreaterThanOrEqual(500);
    expect(files.unitsBilled).toBe(2 * files.files);

    const viaFiles = hub
      .fileUploads()
      .filter((u) => u.notification?.isSuccess)
      .flatMap((u) => readBacklogFile(readFileSync(u.path!)).flatMap((l) => decodeWireMessage(Buffer.from(l)).records.map((r) => r.seq)));
    const viaMessages = (await recordsOf(hub, 'gw-files')).map((r) => r.seq);
    expect(viaFiles.length).toBe(files.records);
    expect(viaMessages.length).toBeGreaterThan(0);
    // The oldest go as files; nothing twice, nothing missing up to the last seq handed out.
    // Only the one message the forwarder had packed while the link was down holds older records.
    const firstFiled = Math.min(...viaFiles);
    const messages = (await allEvents(hub)).filter((e) => e.deviceId === 'gw-files').map((e) => decodeWireMessage(e.body, e.systemProperties['content-encoding']).records.map((r) => r.seq));
    const older = messages.filter((m) => m.some((seq) => seq < firstFiled));
    expect(older.map((m) => [...m].sort((a, b) => a - b))).toEqual(firstFiled > 1 ? [Array.from({ length: firstFiled - 1 }, (_, i) => i + 1)] : []);
    const all = [...viaFiles, ...viaMessages].sort((a, b) => a - b);
    expect(all).toEqual(Array.from({ length: agent.stats().nextSeq - 1 }, (_, i) => i + 1));
  }, 90_000);
});
