import { systemClock } from '../../../agent/core/clock.js';
import { silentLogger } from '../../../agent/core/logger.js';
import { BacklogDrainer, type BacklogFilesSettings } from '../../../agent/backlog-files/drainer.js';
import { Forwarder } from '../../../agent/forwarder/forwarder.js';
import { Outbox, type RecordDraft } from '../../../agent/outbox/outbox.js';
import { AgentStore } from '../../../agent/store/store.js';
import { HubFileUpload, type FileUploader } from '../../../agent/transport/file-upload.js';
import { ConnectionSupervisor } from '../../../agent/transport/supervisor.js';
import type { IotHubEmulator } from '../../../cloud/iothub/index.js';
import { supervisorOptions, untilHistory } from '../transport/support.js';
import { tempDir } from '../../support/tmp.js';

/** Record `i` of a deterministic stream: readings of 10 points, a window result every 50th. */
export function draftAt(i: number): RecordDraft {
  const t = Date.UTC(2026, 10, 1) + i * 100;
  if (i % 50 === 49) return { kind: 'result', t, query: 'avg', out: 'o', ws: t - 5000, we: t, key: `{"pt":"p${i % 10}"}`, rev: 0, row: { avg: i / 7 } };
  return { kind: 'reading', t, at: t + 3, src: 'plc', pt: `p${i % 10}`, v: Math.round(Math.sin(i) * 1000) / 10, q: 'good' };
}

export interface DeviceRig {
  store: AgentStore;
  outbox: Outbox;
  link: ConnectionSupervisor;
  forwarder: Forwarder;
  drainer?: BacklogDrainer;
  /** Stages drafts `from`…`to - 1` in batches, durably. */
  stage(from: number, to: number): Promise<void>;
  close(): Promise<void>;
}

export const FILES_ON: BacklogFilesSettings = { enabled: true, afterRecords: 1000, afterAgeMs: 365 * 86_400_000, fileRecords: 20_000, maxFileBytes: 16 * 1024 * 1024 };

/**
 * One device: a real LevelDB outbox, the SDK on a supervisor link to the emulator, a forwarder and
 * optionally the drainer. `around` may wrap the real uploader (to order a test's events around each upload).
 */
export async function deviceRig(hub: IotHubEmulator, deviceId: string, files?: BacklogFilesSettings, retain = false, around?: (real: FileUploader) => FileUploader): Promise<DeviceRig> {
  const dir = tempDir(`files-${deviceId}`);
  const store = await AgentStore.open(dir.path);
  const outbox = new Outbox(store);
  await outbox.init();
  const dev = await hub.registerDevice(deviceId);
  const link = new ConnectionSupervisor(supervisorOptions(dev.connectionString, hub.caPem, { sendTimeoutMs: 30_000 }));
  const up = untilHistory(link, (e) => e.event === 'connected');
  link.start();
  await up;
  const forwarder = new Forwarder(outbox, link, {
    device: deviceId,
    boot: 'boot-1',
    maxMessageBytes: 64 * 1024,
    lingerMs: 20,
    maxInFlight: 4,
    retryInitialMs: 20,
    retryMaxMs: 200,
    backlogShare: 0.25,
    retentionMs: retain ? 3_600_000 : 0,
    compress: true,
    clock: systemClock,
    logger: silentLogger,
  });
  const drainer = files
    ? new BacklogDrainer(outbox, {
        device: deviceId,
        boot: 'boot-1',
        settings: files,
        retain: () => retain,
        uploader: (around ?? ((real) => real))(new HubFileUpload({ link, deviceId, ca: hub.caPem, timeoutMs: 60_000, clock: systemClock, logger: silentLogger })),
        clock: systemClock,
        logger: silentLogger,
        checkMs: 20,
        retryInitialMs: 20,
        retryMaxMs: 200,
      })
    : undefined;
  return {
    store,
    outbox,
    link,
    forwarder,
    ...(drainer ? { drainer } : {}),
    stage: async (from, to) => {
      for (let i = from; i < to; i += 5000) {
        const staged = outbox.stage(Array.from({ length: Math.min(5000, to - i) }, (_, k) => draftAt(i + k)));
        await store.db.batch(staged.ops, { sync: false });
        staged.commit();
      }
    },
    close: async () => {
      await drainer?.stop();
      await forwarder.stop();
      await link.close();
      await store.close();
      dir.cleanup();
    },
  };
}
