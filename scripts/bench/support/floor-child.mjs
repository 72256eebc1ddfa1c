// Benchmark child: the least a gateway process built from the agent's own parts can hold, with
// none of the agent's code. Layers, picked by FLOOR_LAYERS (comma-separated):
//   (none)  bare node, idle
//   sdk     the official azure-iot-device client over MQTT/TLS, sending what pass-through sends
//           at 500 points/s: 5 gzip messages a second of 100 readings each
//   level   + LevelDB (the store's options) taking each of those readings, synced, as the journal does
//   libs    + pino and zod loaded (the agent's logger and config validation)
// The parent samples this process's RSS from /proc, as it does the real agent's.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { gzipSync } from 'node:zlib';

const require = createRequire(import.meta.url);
const [connectionString, caFile, dataDir] = process.argv.slice(2);
const layers = new Set((process.env.FLOOR_LAYERS ?? '').split(',').filter(Boolean));

if (layers.size === 0) {
  setInterval(() => undefined, 1000);
  process.stdout.write('ready\n');
} else {
  const { Client, Message } = require('azure-iot-device');
  const { Mqtt } = require('azure-iot-device-mqtt');
  if (layers.has('libs')) {
    require('pino');
    await import('zod');
  }
  const client = Client.fromConnectionString(connectionString, Mqtt);
  client.setOptions({ ca: readFileSync(caFile, 'utf8') });
  await client.open();
  let db;
  if (layers.has('level')) {
    const { ClassicLevel } = require('classic-level');
    db = new ClassicLevel(dataDir, { keyEncoding: 'utf8', valueEncoding: 'buffer', writeBufferSize: 2 * 1024 * 1024, cacheSize: 2 * 1024 * 1024, maxOpenFiles: 16 });
    await db.open();
  }
  let seq = 0;
  const tick = async () => {
    const rows = [];
    for (let i = 0; i < 100; i++) rows.push({ source: `line${i % 5}`, point: `p${i}`, value: Math.random() * 100, ts: Date.now(), seq: seq++ });
    if (db) await db.batch(rows.map((r) => ({ type: 'put', key: String(r.seq).padStart(16, '0'), value: Buffer.from(JSON.stringify(r)) })), { sync: true });
    const message = new Message(gzipSync(JSON.stringify(rows)));
    message.contentEncoding = 'gzip';
    message.contentType = 'application/json';
    await client.sendEvent(message);
  };
  setInterval(() => void tick().catch((err) => process.stderr.write(`floor-child: ${err}\n`)), 200);
  process.stdout.write('ready\n');
}
