import { afterEach, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:net';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import deviceSdk from 'azure-iot-device';
import { EventHubConsumerClient } from '@azure/event-hubs';
import { IotHubEmulator } from '../../../cloud/iothub/index.js';
import { closeQuietly, deviceClient, tempDir } from './helpers.js';
import { runCli, spawnCli } from '../../support/cli.js';

/** Runs `edge-agent hub …` as a user would. */
const cli = (args: string[]) => runCli(['hub', ...args]);

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('edge-agent hub (CLI)', () => {
  it('register prints a connection string the emulator accepts; read prints what the device sent', async () => {
    const { dir, cleanup } = await tempDir('hub-cli-');
    cleanups.push(cleanup);
    const reg = await cli(['register', 'cli-dev', '--data-dir', dir]);
    expect(reg).toMatchObject({ code: 0, stderr: '' });
    const key = /^HostName=localhost:8883;DeviceId=cli-dev;SharedAccessKey=([A-Za-z0-9+/=]{44})\n$/.exec(reg.stdout)?.[1];
    expect(key).toBeDefined();
    expect(await readFile(join(dir, 'registry.json'), 'utf8')).toContain(key!);

    const hub = await IotHubEmulator.start({ dataDir: dir });
    cleanups.push(() => hub.stop());
    // The key the CLI registered is the one the emulator checks.
    const client = await deviceClient(`HostName=${hub.hostName};DeviceId=cli-dev;SharedAccessKey=${key}`, hub.caPem);
    cleanups.push(() => closeQuietly(client));
    await client.open();
    for (const body of ['{"n":1}', '{"n":2}']) {
      const m = new deviceSdk.Message(body);
      m.messageId = `mid-${body}`;
      m.contentType = 'application/json';
      m.properties.add('kind', 'reading');
      await client.sendEvent(m);
    }
    // Read the files of the *running* emulator from another process.
    const read = await cli(['read', '--json', '--data-dir', dir]);
    expect(read.code).toBe(0);
    const events = read.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(events.map((e) => e.body)).toEqual(['{"n":1}', '{"n":2}']);
    expect(events[1]).toMatchObject({ deviceId: 'cli-dev', sequenceNumber: 1, properties: { kind: 'reading' } });
    const text = await cli(['read', '--data-dir', dir, '--from', '1']);
    expect(text.stdout).toMatch(/^p\d #1 \S+Z cli-dev mid=mid-\{"n":2\} kind=reading \{"n":2\}\n$/);
  });

  it('start serves until SIGINT; register and invoke go through its service API', async () => {
    const { dir, cleanup } = await tempDir('hub-cli-');
    cleanups.push(cleanup);
    const child = spawnCli(['hub', 'start', '--data-dir', dir, '--port', '0', '--service-port', '0', '--amqp-port', '0']);
    let out = '';
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    cleanups.push(async () => {
      if (child.exitCode === null) child.kill('SIGKILL');
      await exited;
    });
    const port = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /mqtts:\/\/localhost:(\d+)/.exec(out);
        if (m) resolve(m[1]!);
      });
      child.on('close', () => reject(new Error(`hub start exited: ${out}`)));
    });
    const reg = await cli(['register', 'live-dev', '--data-dir', dir]);
    expect(reg.stdout).toMatch(new RegExp(`^HostName=localhost:${port};DeviceId=live-dev;SharedAccessKey=`));
    // The Event Hubs connection string: shown by start, printed alone by connection-string --events,
    // and good for the real consumer client (it reads the hub's properties over AMQP with it).
    const shown = /Event Hub-compatible endpoint \(AMQP\): (\S+)\n/.exec(out)?.[1];
    const events = await cli(['connection-string', '--events', '--data-dir', dir]);
    expect(events).toMatchObject({ code: 0, stderr: '', stdout: `${shown}\n` });
    const consumer = new EventHubConsumerClient('$Default', events.stdout.trim());
    try {
      expect((await consumer.getEventHubProperties()).partitionIds).toEqual(['0', '1', '2', '3']);
    } finally {
      await consumer.close();
    }
    const devices = await cli(['devices', '--data-dir', dir]);
    expect(devices.stdout).toBe('live-dev\toffline\n');
    const invoke = await cli(['invoke', 'live-dev', 'ping', '{"x":1}', '--data-dir', dir]);
    expect(invoke.code).toBe(1);
    expect(invoke.stderr).toBe('edge-agent: device live-dev is not online for direct methods (404) [EDGE_HUB_DEVICE_OFFLINE]\n');
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(out).toMatch(/stopped; 0 messages in its log\n$/);
  });

  it('a port already in use is one clear line, no stack trace', async () => {
    const { dir, cleanup } = await tempDir('hub-cli-');
    cleanups.push(cleanup);
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => blocker.close(() => resolve())));
    const port = (blocker.address() as { port: number }).port;
    const run = await cli(['start', '--data-dir', dir, '--port', String(port), '--service-port', '0']);
    expect(run.code).toBe(1);
    expect(run.stderr).toBe(`edge-agent: port ${port} is already in use (MQTT on 127.0.0.1) [EDGE_PORT_IN_USE]\n`);
    expect(run.stdout).toBe('');
  });

  it('an unusable data dir is named', async () => {
    const { dir, cleanup } = await tempDir('hub-cli-');
    cleanups.push(cleanup);
    const run = await cli(['read', '--data-dir', join(dir, 'nothing-here')]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(join(dir, 'nothing-here'));
    expect(run.stderr).toContain('[EDGE_DATA_DIR_UNUSABLE]');
    expect(run.stderr).not.toMatch(/\n\s+at /);
  });
});
