import { IotHubEmulator } from '../../cloud/iothub/index.js';
import type { HubEvent } from '../../cloud/iothub/index.js';
import { decodeWireMessage, type WireRecord } from '../../agent/core/wire.js';
import { tempDir } from './tmp.js';

/** A real emulator in a temp dir, for tests; `close()` stops it and removes the dir. */
export async function startHub(): Promise<{ hub: IotHubEmulator; close: () => Promise<void> }> {
  const dir = tempDir('hub');
  const hub = await IotHubEmulator.start({ dataDir: dir.path });
  return {
    hub,
    close: async () => {
      await hub.stop();
      dir.cleanup();
    },
  };
}

/** Every event of the message log, all partitions. */
export async function allEvents(hub: IotHubEmulator): Promise<HubEvent[]> {
  const log = hub.messageLog;
  const out: HubEvent[] = [];
  for (let p = 0; p < log.partitionCount; p++) out.push(...(await log.read(p, 0, Number.MAX_SAFE_INTEGER)));
  return out;
}

/** The wire records a device's messages carry, in log order. */
export async function recordsOf(hub: IotHubEmulator, deviceId: string): Promise<WireRecord[]> {
  const events = (await allEvents(hub)).filter((e) => e.deviceId === deviceId);
  return events.flatMap((e) => decodeWireMessage(e.body, e.systemProperties['content-encoding']).records);
}

/** Resolves once `predicate` holds, re-checking at every telemetry event the hub stores. */
export function untilTelemetry(hub: IotHubEmulator, predicate: () => boolean | Promise<boolean>): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const check = () => {
      Promise.resolve(predicate()).then(
        (ok) => {
          if (!ok) return;
          hub.off('telemetry', check);
          resolve();
        },
        (err: unknown) => {
          hub.off('telemetry', check);
          reject(err instanceof Error ? err : new Error(String(err)));
        },
      );
    };
    hub.on('telemetry', check);
    check();
  });
}
