import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { BlobServiceClient, ContainerSASPermissions, type ContainerClient } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backlogFileLines, backlogFileName, parseBacklogBlobName } from '../../../agent/core/backlog-file.js';
import { IotHubEmulator } from '../../../cloud/iothub/index.js';
import { EventHubsSource, SqliteStore } from '../../../cloud/reconciler/index.js';
import { runCli, spawnCli } from '../../support/cli.js';
import { recordsOf } from '../../support/hub.js';
import { closedPort, startAzurite, type Azurite } from '../../support/azurite.js';
import { tempDir } from '../../support/tmp.js';
import { FILES_ON, deviceRig } from '../../agent/backlog-files/support.js';

/** A `--once` run takes seconds; a hung one is killed well inside the test's own timeout, so its output is seen. */
const cli = (args: string[], env: NodeJS.ProcessEnv = {}) => runCli(args, { EDGE_LOG_LEVEL: 'warn', ...env }, 50_000);
const noStack = (s: string) => expect(s).not.toMatch(/^\s+at /m);

const BACKLOG = 6000;
const LIVE = 600;
const RESENT = 300;
const CONTAINER = 'fileupload';

/** One device's reconciled table, without the device id: what the plant engineer sees. */
async function tableOf(path: string, device: string) {
  const store = new SqliteStore(path);
  try {
    await store.migrate();
    const strip = <T extends { device: string }>(rows: T[]) => rows.map(({ device: _d, ...rest }) => rest);
    return {
      readings: strip(await store.readings(device)),
      results: strip(await store.results({ device })).map(({ enqueuedTime: _e, ...r }) => r),
      device: (await store.devices()).find((d) => d.device === device),
      openGaps: (await store.gaps()).filter((g) => g.state === 'open' && g.device === device),
    };
  } finally {
    await store.close();
  }
}

/**
 * `edge-agent cloud run --event-hubs … --files-container …` as an Azure user runs it: the messages
 * through the emulator's AMQP Event Hub-compatible endpoint (the real consumer client), the backlog
 * files in a real Blob endpoint (Azurite, where IoT Hub file upload would have put them).
 */
describe('cloud run --event-hubs with the backlog files in Azure Blob Storage (emulator AMQP + Azurite)', () => {
  let az: Azurite;
  let hub: IotHubEmulator;
  let container: ContainerClient;
  const hubDir = tempDir('azure-files-hub');
  const work = tempDir('azure-files-cli');
  /** Records of device "files" that reached the hub only as a blob never notified. */
  let unnotified = 0;
  /** Backlog files in the container (the notified ones and the one never notified). */
  let backlogBlobs = 0;

  beforeAll(async () => {
    az = await startAzurite();
    hub = await IotHubEmulator.start({ dataDir: hubDir.path, amqpPort: 0 });

    // Device "files": a backlog drained as files through the emulator's file upload, then live records as messages.
    const a = await deviceRig(hub, 'files', { ...FILES_ON, afterRecords: 1000, fileRecords: 1500 }, true);
    try {
      await a.stage(0, BACKLOG);
      await a.drainer!.prime();
      a.forwarder.start();
      a.drainer!.start();
      while (a.drainer!.stats().records < BACKLOG) await a.drainer!.progress.wait();
      await a.stage(BACKLOG, BACKLOG + LIVE);
      expect(await a.forwarder.flush(120_000)).toBe(true);
      // A record sent both ways counts once: the oldest go again, as messages.
      expect(await a.outbox.resend(1, RESENT)).toMatchObject({ resent: RESENT });
      expect(await a.forwarder.flush(60_000)).toBe(true);
    } finally {
      await a.close();
    }
    // Device "messages": the same records, all as messages.
    const b = await deviceRig(hub, 'messages');
    try {
      await b.stage(0, BACKLOG + LIVE);
      b.forwarder.start();
      expect(await b.forwarder.flush(120_000)).toBe(true);
    } finally {
      await b.close();
    }

    // The hub's file-upload container: what IoT Hub stored, in the order it was notified, with the same names.
    container = BlobServiceClient.fromConnectionString(az.connectionString()).getContainerClient(CONTAINER);
    await container.create();
    const uploads = hub.fileUploads().filter((u) => u.notification?.isSuccess && u.deviceId === 'files');
    expect(uploads.length).toBeGreaterThanOrEqual(5);
    for (const u of uploads) await container.getBlockBlobClient(u.blobName).uploadData(readFileSync(u.path!));
    // A file uploaded whose completion never reached the hub (the records then went as messages): read, and counted once.
    const live = (await recordsOf(hub, 'files')).filter((r) => r.kind === 'reading' && r.seq > BACKLOG).slice(0, 100);
    unnotified = live.length;
    backlogBlobs = uploads.length + 1;
    const body = gzipSync(backlogFileLines('files', 'boot-1', live.map((r) => JSON.stringify(r))).join('\n') + '\n');
    await container.getBlockBlobClient(`files/${backlogFileName('reading', live[0]!.seq, live.at(-1)!.seq)}`).uploadData(body);
    // Other uploads share the container (support bundles): passed over.
    await container.getBlockBlobClient('files/support/2026-12-02.tar.gz').uploadData(Buffer.from('bundle'));
  }, 400_000);
  afterAll(async () => {
    await hub?.stop();
    await az?.close();
    hubDir.cleanup();
    work.cleanup();
  });

  it('--once: the table of the device that drained as files equals the all-messages one; a record sent both ways counts once', { timeout: 120_000 }, async () => {
    const db = join(work.path, 'azure.db');
    // The connection string from the environment, as the help suggests (keeps the key out of ps).
    const run = await cli(['cloud', 'run', '--event-hubs', hub.eventHubsConnectionString()!, '--files-container', CONTAINER, '--files-settle', '0', '--store', `sqlite:${db}`, '--once'], {
      AZURE_STORAGE_CONNECTION_STRING: az.connectionString(),
    });
    expect(run).toMatchObject({ code: 0, stderr: '' });
    const [files, messages] = [await tableOf(db, 'files'), await tableOf(db, 'messages')];
    expect(files.readings.length + files.results.length).toBe(BACKLOG + LIVE);
    expect({ readings: files.readings, results: files.results }).toEqual({ readings: messages.readings, results: messages.results });
    expect(files.device).toMatchObject({ maxSeq: BACKLOG + LIVE, records: BACKLOG + LIVE, duplicates: RESENT + unnotified });
    expect(messages.device).toMatchObject({ maxSeq: BACKLOG + LIVE, records: BACKLOG + LIVE, duplicates: 0 });
    expect([files.openGaps, messages.openGaps]).toEqual([[], []]);

    // The emulator path (message log + its file store, what --hub-data-dir reads) gives the same table.
    const local = join(work.path, 'local.db');
    expect(await cli(['cloud', 'run', '--hub-data-dir', hubDir.path, '--store', `sqlite:${local}`, '--once'])).toMatchObject({ code: 0, stderr: '' });
    const fromEmulator = await tableOf(local, 'files');
    expect({ readings: fromEmulator.readings, results: fromEmulator.results }).toEqual({ readings: files.readings, results: files.results });

    // The files partition is committed to its end beside the Event Hubs partitions: a next run starts after every file.
    const store = new SqliteStore(db);
    try {
      const { checkpoints } = await store.loadCheckpoints(new EventHubsSource({ connectionString: hub.eventHubsConnectionString()! }).id);
      expect(checkpoints.get('backlog-files:files')).toBe(backlogBlobs * 2 ** 20);
    } finally {
      await store.close();
    }
  });

  it('--files-container-url: a container SAS that allows list and read reads the same files', { timeout: 120_000 }, async () => {
    const url = await container.generateSasUrl({ permissions: ContainerSASPermissions.parse('rl'), expiresOn: new Date(Date.now() + 3_600_000) });
    const db = join(work.path, 'sas.db');
    const run = await cli(['cloud', 'run', '--event-hubs', hub.eventHubsConnectionString()!, '--files-container-url', url, '--files-settle', '0', '--store', `sqlite:${db}`, '--once']);
    expect(run).toMatchObject({ code: 0, stderr: '' });
    const files = await tableOf(db, 'files');
    expect(files.device).toMatchObject({ maxSeq: BACKLOG + LIVE, records: BACKLOG + LIVE, duplicates: RESENT + unnotified });
    // Every backlog blob was a file's worth of lines.
    const blobs: string[] = [];
    for await (const b of container.listBlobsFlat()) blobs.push(b.name);
    expect(blobs.filter((n) => parseBacklogBlobName(n) !== undefined).length).toBe(blobs.length - 1);
  });

  it('as a service: reconciles messages and files until SIGTERM; says where it reads', { timeout: 120_000 }, async () => {
    const p = spawnCli(['cloud', 'run', '--event-hubs', hub.eventHubsConnectionString()!, '--files-container', CONTAINER, '--files-settle', '0', '--store', `sqlite:${join(work.path, 'service.db')}`, '--http-port', '0', '--poll', '50ms'], {
      EDGE_LOG_LEVEL: 'info',
      AZURE_STORAGE_CONNECTION_STRING: az.connectionString(),
    });
    let stderr = '';
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => p.once('exit', (code) => resolve(code)));
    // Caught up with every record of both devices (an earlier `caught up` may come before Event Hubs hands over its partitions).
    await new Promise<void>((resolve, reject) => {
      let out = '';
      p.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        for (const line of out.split('\n').slice(0, -1)) {
          const entry = JSON.parse(line) as { msg: string; accepted?: number };
          if (entry.msg === 'caught up' && entry.accepted === 2 * (BACKLOG + LIVE)) resolve();
        }
        out = out.slice(out.lastIndexOf('\n') + 1);
      });
      void exited.then((code) => reject(new Error(`exited (${code}): ${stderr}`)));
    });
    expect(stderr).toMatch(/reconciling event-hubs:\S+ and backlog files in container fileupload into sqlite/);
    const url = /HTTP API on (http:\/\/\S+)/.exec(stderr)![1]!;
    const { devices } = (await (await fetch(`${url}/devices`)).json()) as { devices: Array<{ device: string; records: number }> };
    expect(devices.map((d) => [d.device, d.records])).toEqual([
      ['files', BACKLOG + LIVE],
      ['messages', BACKLOG + LIVE],
    ]);
    p.kill('SIGTERM');
    expect(await exited).toBe(0);
  });

  it('a wrong key, a missing container, nobody listening, a bad address: one line with its EDGE_ code, no stack, no key', { timeout: 120_000 }, async () => {
    const eh = hub.eventHubsConnectionString()!;
    const db = `sqlite:${join(work.path, 'refused.db')}`;
    const wrongKey = Buffer.alloc(64, 9).toString('base64');
    const nobody = await closedPort();
    const runs = await Promise.all([
      cli(['cloud', 'run', '--event-hubs', eh, '--files-container', CONTAINER, '--files-storage', az.connectionString(wrongKey), '--store', db, '--once']),
      cli(['cloud', 'run', '--event-hubs', eh, '--files-container', 'not-there', '--files-storage', az.connectionString(), '--store', db, '--once']),
      cli(['cloud', 'run', '--event-hubs', eh, '--files-container', CONTAINER, '--files-storage', az.connectionString().replace(/127\.0\.0\.1:\d+/, `127.0.0.1:${nobody}`), '--store', db, '--once']),
      cli(['cloud', 'run', '--event-hubs', eh, '--files-container', CONTAINER, '--files-storage', `AccountName=x;AccountKey=${wrongKey}`, '--store', db, '--once']),
      cli(['cloud', 'run', '--hub-data-dir', hubDir.path, '--files-container', CONTAINER, '--store', db, '--once']),
      cli(['cloud', 'run', '--event-hubs', eh, '--files-container', CONTAINER, '--store', db, '--once'], { AZURE_STORAGE_CONNECTION_STRING: '' }),
    ]);
    expect(runs.map((r) => r.code)).toEqual([1, 2, 1, 2, 2, 2]);
    expect(runs[0]!.stderr).toMatch(/^edge-agent: backlog files container 'fileupload': the storage account refused the credential \(403 .*\) \[EDGE_TRANSPORT_UNAUTHORIZED\]\n/);
    expect(runs[1]!.stderr).toMatch(/^edge-agent: backlog files container 'not-there' does not exist in that storage account .*\[EDGE_USAGE\]\n/);
    expect(runs[2]!.stderr).toMatch(/^edge-agent: backlog files container 'fileupload' cannot be reached: connect ECONNREFUSED .*\[EDGE_TRANSPORT_UNAVAILABLE\]\n$/);
    expect(runs[3]!.stderr).toMatch(/^edge-agent: the backlog files storage connection string cannot be used .*\[EDGE_USAGE\]\n/);
    expect(runs[4]!.stderr).toMatch(/go with --event-hubs .*\[EDGE_USAGE\]\n/);
    expect(runs[5]!.stderr).toMatch(/--files-container needs the storage account: --files-storage CONNECTION_STRING or \$AZURE_STORAGE_CONNECTION_STRING \[EDGE_USAGE\]\n/);
    for (const r of runs) {
      noStack(r.stderr);
      expect(r.stderr).not.toContain(wrongKey);
    }
  });
});
