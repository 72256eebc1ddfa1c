import { forwardingSchema } from '../../agent/config/schema.js';
import { IotHubEmulator } from '../../cloud/iothub/index.js';
import { deviceRig } from '../../test/agent/backlog-files/support.js';
import { tempDir } from '../../test/support/tmp.js';
import type { BenchRow, BenchSuite } from './harness.js';

const RECORDS = Number(process.env.EDGE_BENCH_FILES_BACKLOG ?? 1_000_000);

/**
 * The bill for draining a backlog: the same records (readings of 10 points, a window result every
 * 50th) drained by one device as backlog files and by another as messages (gzip, 64 KB, the
 * cheapest the message path gets), each through the real SDK against the emulator. Files are
 * billed 2 units each (initiation and completion; IoT Hub pricing), messages per 4 KB of body.
 */
export const suite: BenchSuite = {
  name: 'bill-files',
  async run(log) {
    const hubDir = tempDir('bench-files-hub');
    const hub = await IotHubEmulator.start({ dataDir: hubDir.path });
    try {
      // The schema's defaults, switched on.
      const settings = { ...forwardingSchema.parse({}).backlogFiles, enabled: true };
      log(`files: ${JSON.stringify(settings)}`);
      const files = await deviceRig(hub, 'bench-files', settings);
      const messages = await deviceRig(hub, 'bench-messages');
      try {
        log(`staging ${RECORDS.toLocaleString('en-US')} records in each outbox`);
        await files.stage(0, RECORDS);
        await messages.stage(0, RECORDS);

        log('draining as files');
        let t0 = performance.now();
        await files.drainer!.prime();
        files.forwarder.start();
        files.drainer!.start();
        while (files.drainer!.stats().records < RECORDS) await files.drainer!.progress.wait();
        if (!(await files.forwarder.flush(600_000))) throw new Error('files device did not drain');
        const filesMs = performance.now() - t0;
        const f = files.drainer!.stats();
        const fUnits = f.unitsBilled + files.forwarder.stats().unitsBilled;

        log('draining as messages');
        t0 = performance.now();
        messages.forwarder.start();
        if (!(await messages.forwarder.flush(1_800_000))) throw new Error('messages device did not drain');
        const messagesMs = performance.now() - t0;
        const m = messages.forwarder.stats();
        const n = RECORDS.toLocaleString('en-US');
        return [
          {
            name: `billed units to drain a ${n}-record backlog as files`,
            value: fUnits,
            unit: 'units',
            baseline: { name: `as gzip messages (${m.messagesAcked.toLocaleString('en-US')} msgs)`, value: m.unitsBilled },
            note: `${f.files} files, ${(f.bytesUploaded / 2 ** 20).toFixed(1)} MiB gzip uploaded; target ≤ 1 % of messages`,
          },
          {
            name: `time to drain a ${n}-record backlog as files`,
            value: filesMs / 1000,
            unit: 's',
            baseline: { name: 'as messages', value: messagesMs / 1000 },
            note: 'SDK against the local emulator, both devices in one process',
          },
        ] satisfies BenchRow[];
      } finally {
        await files.close();
        await messages.close();
      }
    } finally {
      await hub.stop();
      hubDir.cleanup();
    }
  },
};
