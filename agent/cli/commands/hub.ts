import { join } from 'node:path';
import type { Command } from 'commander';
import { untilShutdownSignal } from '../shutdown.js';
import { EdgeError } from '../../core/errors.js';
import { parseDuration } from '../duration.js';
import { usageError } from '../exit.js';
import { registerHubDps } from './hub-dps.js';
import { withExamples } from '../help.js';
import type { HubEvent, HubServiceClient, RuntimeInfo } from '../../../cloud/iothub/index.js';

/**
 * `edge-agent hub …`: run the local IoT Hub emulator and act as its service side. Commands that
 * change state go through the running emulator's HTTP service API when one runs on the data dir
 * (it owns the files then); otherwise they work on the data dir's files directly. `hub read`
 * always reads the message log files (read-only), running emulator or not.
 */
const DEFAULT_DATA_DIR = join('.data', 'hub');
const DEFAULT_PORT = 8883;
const DEFAULT_SERVICE_PORT = 8884;
/** AMQP's registered port, as the official Event Hubs emulator uses. */
const DEFAULT_AMQP_PORT = 5672;

/** The emulator side (aedes, node-forge, …), loaded by the action that needs it. */
const iothub = () => import('../../../cloud/iothub/index.js');

interface DirFlags {
  dataDir: string;
}

function int(name: string, v: string | undefined, fallback: number): number {
  if (v === undefined) return fallback;
  if (!/^\d+$/.test(v.trim())) throw usageError(`${name} must be a whole number, not '${v}'`);
  return Number(v);
}

function json(name: string, text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw usageError(`${name} is not valid JSON: ${text}`);
  }
}

async function running(dataDir: string): Promise<(RuntimeInfo & { client: HubServiceClient }) | undefined> {
  const { readRuntimeInfo, HubServiceClient } = await iothub();
  const info = await readRuntimeInfo(dataDir);
  if (!info) return undefined;
  if (info.servicePort === null) {
    throw new EdgeError('EDGE_STORE_LOCKED', `an IoT Hub emulator (pid ${info.pid}) runs on ${dataDir} without its service API; use its own API`);
  }
  return { ...info, client: new HubServiceClient(`http://127.0.0.1:${info.servicePort}`) };
}

async function requireRunning(dataDir: string): Promise<HubServiceClient> {
  const hub = await running(dataDir);
  if (!hub) throw new EdgeError('EDGE_TRANSPORT_UNAVAILABLE', `no IoT Hub emulator is running on ${dataDir} (start one with: edge-agent hub start --data-dir ${dataDir})`);
  return hub.client;
}

const dirOption = (cmd: Command): Command => cmd.option('--data-dir <dir>', 'the emulator\'s data directory', DEFAULT_DATA_DIR);

export function registerHub(program: Command): void {
  const hub = withExamples(program.command('hub'), [
    'hub start --data-dir .data/hub',
    'hub register gw-01 --json',
    'hub twin gw-01',
    "hub set-desired gw-01 '{\"log\":{\"level\":\"debug\"}}'",
    'hub read --json --limit 10 | jq .body',
    'hub invoke gw-01 ping --timeout 5s',
  ]).description('local IoT Hub emulator: run it, register devices, read what devices sent, call devices');

  dirOption(hub.command('start'))
    .description('run the emulator (MQTT over TLS on loopback + HTTP service API) until Ctrl-C')
    .option('--port <n>', `MQTT/TLS port (0 = any free port)`, String(DEFAULT_PORT))
    .option('--service-port <n>', `HTTP service API port (0 = any free port)`, String(DEFAULT_SERVICE_PORT))
    .option('--amqp-port <n>', `AMQP Event Hub-compatible endpoint port (0 = any free port)`, String(DEFAULT_AMQP_PORT))
    .option('--partitions <n>', 'partitions of a new message log (2..32)', '4')
    .option('--log-level <level>', 'emulator log level on stderr: silent, error, warn, info, debug', 'silent')
    .action(async (flags: DirFlags & { port: string; servicePort: string; amqpPort: string; partitions: string; logLevel: string }) => {
      const levels = ['silent', 'error', 'warn', 'info', 'debug'];
      if (!levels.includes(flags.logLevel)) throw usageError(`--log-level must be one of ${levels.join(', ')}`);
      const [{ IotHubEmulator }, { createRootLogger }] = await Promise.all([iothub(), import('../../core/logger.js')]);
      const emulator = await IotHubEmulator.start({
        dataDir: flags.dataDir,
        port: int('--port', flags.port, DEFAULT_PORT),
        servicePort: int('--service-port', flags.servicePort, DEFAULT_SERVICE_PORT),
        amqpPort: int('--amqp-port', flags.amqpPort, DEFAULT_AMQP_PORT),
        partitionCount: int('--partitions', flags.partitions, 4),
        logger: createRootLogger(flags.logLevel as 'info', process.stderr),
      });
      process.stdout.write(
        `IoT Hub emulator: devices mqtts://${emulator.hostName}, service http://127.0.0.1:${emulator.servicePort}, ` +
          `data ${emulator.dataDir}, CA ${join(emulator.dataDir, 'tls', 'ca.pem')} (Ctrl-C stops)\n` +
          `Event Hub-compatible endpoint (AMQP): ${emulator.eventHubsConnectionString()}\n`,
      );
      await untilShutdownSignal();
      await emulator.stop();
      process.stdout.write(`IoT Hub emulator stopped; ${emulator.messageCount()} messages in its log\n`);
    });

  dirOption(hub.command('connection-string'))
    .description('print the running emulator\'s connection string for a shared access policy')
    .option('--events', 'the Event Hub-compatible endpoint (AMQP), as @azure/event-hubs takes it')
    .option('--policy <name>', 'iothubowner, service or registryRead', 'service')
    .action(async (flags: DirFlags & { events?: boolean; policy: string }) => {
      const { readRuntimeInfo, readEventHubsInfo, loadPolicies, eventHubsConnectionString } = await iothub();
      const info = await readRuntimeInfo(flags.dataDir);
      if (!info) throw new EdgeError('EDGE_TRANSPORT_UNAVAILABLE', `no IoT Hub emulator is running on ${flags.dataDir} (start one with: edge-agent hub start --data-dir ${flags.dataDir})`);
      const { policies } = await loadPolicies(flags.dataDir, Date.now()).catch(dataDirError(flags.dataDir));
      const policy = policies.find((p) => p.keyName === flags.policy);
      if (!policy) throw usageError(`--policy must be one of ${policies.map((p) => p.keyName).join(', ')}, not '${flags.policy}'`);
      if (!flags.events) {
        process.stdout.write(`HostName=${info.hostName};SharedAccessKeyName=${policy.keyName};SharedAccessKey=${policy.primaryKey}\n`);
        return;
      }
      const events = await readEventHubsInfo(flags.dataDir);
      if (!events) throw new EdgeError('EDGE_TRANSPORT_UNAVAILABLE', `the emulator on ${flags.dataDir} runs without its AMQP endpoint (start it with --amqp-port)`);
      process.stdout.write(eventHubsConnectionString(`127.0.0.1:${events.port}`, events.hubName, policy) + '\n');
    });

  dirOption(hub.command('register <deviceId>'))
    .description('register a device (or show an existing one) and print its connection string')
    .option('--port <n>', 'with no emulator running: the port to put in the connection string', String(DEFAULT_PORT))
    .option('--json', 'print {deviceId, connectionString, createdAt} as JSON')
    .action(async (deviceId: string, flags: DirFlags & { port: string; json?: boolean }) => {
      const print = (d: { deviceId: string; connectionString: string; createdAt: number }) =>
        process.stdout.write((flags.json ? JSON.stringify({ deviceId: d.deviceId, connectionString: d.connectionString, createdAt: d.createdAt }) : d.connectionString) + '\n');
      const live = await running(flags.dataDir);
      if (live) {
        print(await live.client.registerDevice(deviceId));
        return;
      }
      const { DeviceRegistry, deviceConnectionString } = await iothub();
      const registry = await DeviceRegistry.open(flags.dataDir).catch(dataDirError(flags.dataDir));
      const identity = await registry.register(deviceId, Date.now()).catch(dataDirError(flags.dataDir));
      const port = int('--port', flags.port, DEFAULT_PORT);
      print({ ...identity, connectionString: deviceConnectionString(`localhost:${port}`, identity.deviceId, identity.primaryKey) });
    });

  dirOption(hub.command('twin <deviceId>'))
    .description("print the device twin (desired and reported properties, each with its $version) as JSON")
    .option('--json', 'one line instead of indented')
    .action(async (deviceId: string, flags: DirFlags & { json?: boolean }) => {
      const live = await running(flags.dataDir);
      let twin: unknown;
      if (live) twin = await live.client.getTwin(deviceId);
      else {
        const { DeviceRegistry, TwinStore } = await iothub();
        const registry = await DeviceRegistry.open(flags.dataDir).catch(dataDirError(flags.dataDir));
        if (!registry.get(deviceId)) throw new EdgeError('EDGE_HUB_DEVICE_UNKNOWN', `device ${deviceId} is not registered in ${flags.dataDir}`);
        twin = (await TwinStore.open(flags.dataDir).catch(dataDirError(flags.dataDir))).get(deviceId);
      }
      process.stdout.write(JSON.stringify(twin, null, flags.json ? undefined : 2) + '\n');
    });

  dirOption(hub.command('devices'))
    .description('list registered devices (and, with an emulator running, which are connected)')
    .option('--json', 'print JSON')
    .action(async (flags: DirFlags & { json?: boolean }) => {
      const live = await running(flags.dataDir);
      const { DeviceRegistry } = await iothub();
      const devices = live
        ? await live.client.listDevices()
        : (await DeviceRegistry.open(flags.dataDir).catch(dataDirError(flags.dataDir)))
            .list()
            .map((d) => ({ deviceId: d.deviceId, connected: false, connectedAt: null, createdAt: d.createdAt }));
      if (flags.json) {
        process.stdout.write(JSON.stringify(devices) + '\n');
        return;
      }
      if (devices.length === 0) process.stdout.write('no devices registered\n');
      for (const d of devices) process.stdout.write(`${d.deviceId}\t${d.connected ? 'connected' : live ? 'offline' : '-'}\n`);
    });

  dirOption(hub.command('read'))
    .description('print telemetry from the message log files (what the cloud reads), oldest first')
    .option('--partition <p>', 'only this partition (default: all)')
    .option('--from <n>', 'first sequence number', '0')
    .option('--limit <n>', 'at most this many events per partition', '100')
    .option('--json', 'one JSON object per line (body as text, or bodyBase64 when not UTF-8)')
    .action(async (flags: DirFlags & { partition?: string; from: string; limit: string; json?: boolean }) => {
      const { openMessageLogReader } = await iothub();
      const reader = await openMessageLogReader(flags.dataDir);
      try {
        const from = int('--from', flags.from, 0);
        const limit = int('--limit', flags.limit, 100);
        const partitions =
          flags.partition === undefined ? [...Array(reader.partitionCount).keys()] : [int('--partition', flags.partition, 0)];
        for (const p of partitions) {
          if (p >= reader.partitionCount) throw usageError(`--partition must be 0..${reader.partitionCount - 1}`);
          for (const e of await reader.read(p, from, limit)) process.stdout.write((flags.json ? eventJson(e) : eventLine(e)) + '\n');
        }
      } finally {
        await reader.close();
      }
    });

  dirOption(hub.command('set-desired <deviceId> <json>'))
    .description('merge a patch into the device twin\'s desired properties (null deletes); pushed to the device if online')
    .action(async (deviceId: string, patchText: string, flags: DirFlags) => {
      const patch = json('<json>', patchText);
      if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) throw usageError('<json> must be a JSON object');
      const live = await running(flags.dataDir);
      if (live) {
        const r = await live.client.updateDesired(deviceId, patch as Record<string, unknown>);
        process.stdout.write(`desired $version ${r.version}${r.pushed ? ', pushed to the device' : ', device not listening (it reads the twin when it connects)'}\n`);
        return;
      }
      const { DeviceRegistry, TwinStore } = await iothub();
      const registry = await DeviceRegistry.open(flags.dataDir).catch(dataDirError(flags.dataDir));
      if (!registry.get(deviceId)) throw new EdgeError('EDGE_HUB_DEVICE_UNKNOWN', `device ${deviceId} is not registered in ${flags.dataDir}`);
      const twins = await TwinStore.open(flags.dataDir).catch(dataDirError(flags.dataDir));
      const r = await twins.patchDesired(deviceId, patch);
      process.stdout.write(`desired $version ${r.version} (no emulator running: the device reads it when it connects)\n`);
    });

  dirOption(hub.command('invoke <deviceId> <method> [json]'))
    .description('call a direct method on a connected device and print its answer')
    .option('--timeout <duration>', 'response timeout (5s, 1m; a bare number is ms)', '30s')
    .action(async (deviceId: string, method: string, payloadText: string | undefined, flags: DirFlags & { timeout: string }) => {
      const payload = payloadText === undefined ? null : json('[json]', payloadText);
      const client = await requireRunning(flags.dataDir);
      const r = await client.invokeMethod(deviceId, method, payload, { responseTimeoutMs: parseDuration(flags.timeout, '--timeout', { min: 1 }) });
      process.stdout.write(JSON.stringify(r) + '\n');
    });

  const files = hub.command('files').description('files devices uploaded through IoT Hub file upload (read from the data dir, emulator running or not)');
  dirOption(files.command('list'))
    .description('list stored uploads, oldest first: blob name, bytes, when stored, the device\'s notification')
    .option('--device <id>', 'only this device\'s')
    .option('--json', 'one JSON object per line')
    .action(async (flags: DirFlags & { device?: string; json?: boolean }) => {
      const { openFileStoreReader } = await iothub();
      const store = await openFileStoreReader(flags.dataDir);
      const uploads = store.list().filter((u) => flags.device === undefined || u.deviceId === flags.device);
      if (!flags.json && uploads.length === 0) process.stdout.write('no files uploaded\n');
      for (const u of uploads) {
        const notified = u.notification ? (u.notification.isSuccess ? 'notified' : `failed ${u.notification.statusCode}`) : 'not notified';
        process.stdout.write(flags.json ? JSON.stringify(u) + '\n' : `${u.blobName}\t${u.bytes ?? 0}\t${new Date(u.storedAt ?? 0).toISOString()}\t${notified}\n`);
      }
    });
  dirOption(files.command('get <blobName>'))
    .description('copy an uploaded file (its name as `files list` shows it, <deviceId>/…) to --out')
    .requiredOption('--out <file>', 'where to write it')
    .action(async (blobName: string, flags: DirFlags & { out: string }) => {
      const [{ openFileStoreReader }, { copyFile }] = await Promise.all([iothub(), import('node:fs/promises')]);
      const store = await openFileStoreReader(flags.dataDir);
      const upload = store.list().filter((u) => u.blobName === blobName).pop();
      if (!upload) throw new EdgeError('EDGE_USAGE', `no uploaded file ${blobName} in ${flags.dataDir} (see: edge-agent hub files list --data-dir ${flags.dataDir})`);
      await copyFile(store.blobPath(upload), flags.out);
      process.stdout.write(`${flags.out}: ${upload.bytes ?? 0} bytes from ${upload.deviceId}\n`);
    });
  registerHubDps(hub);
}

function dataDirError(dataDir: string): (cause: unknown) => never {
  return (cause: unknown) => {
    if (cause instanceof EdgeError) throw cause;
    throw new EdgeError('EDGE_DATA_DIR_UNUSABLE', `data directory ${dataDir} is not usable`, { cause });
  };
}

function bodyText(e: HubEvent): string | undefined {
  if (e.systemProperties['content-encoding'] === 'gzip') return undefined;
  const text = e.body.toString('utf8');
  return Buffer.from(text, 'utf8').equals(e.body) ? text : undefined;
}

function eventJson(e: HubEvent): string {
  const text = bodyText(e);
  const { body: _body, ...rest } = e;
  return JSON.stringify(text === undefined ? { ...rest, bodyBase64: e.body.toString('base64') } : { ...rest, body: text });
}

function eventLine(e: HubEvent): string {
  const text = bodyText(e);
  const body = text === undefined ? `<${e.body.length} bytes>` : text.length > 160 ? `${text.slice(0, 160)}…` : text;
  const props = Object.entries(e.properties)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  const mid = e.systemProperties['message-id'];
  return `p${e.partition} #${e.sequenceNumber} ${new Date(e.enqueuedTime).toISOString()} ${e.deviceId}${mid ? ` mid=${mid}` : ''}${props ? ` ${props}` : ''} ${body}`;
}
