// Benchmark child: an agent cut off from its hub ingests `target` readings as fast as the
// journal accepts them, reports its peak RSS, then drains once the hub takes connections and
// reports again. It runs the built agent (dist/, as a gateway does), not the TypeScript
// sources through tsx, so the memory figure is the product's.
import { readFileSync } from 'node:fs';
import { systemClock } from '../../../dist/agent/core/clock.js';
import { silentLogger } from '../../../dist/agent/core/logger.js';
import { parseConfig } from '../../../dist/agent/config/load.js';
import { EdgeAgent } from '../../../dist/agent/runtime/edge-agent.js';
import { ConnectionSupervisor } from '../../../dist/agent/transport/supervisor.js';

const [dataDir, connectionString, caFile, targetText] = process.argv.slice(2);
const target = Number(targetText);

function peakRssMb() {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) / 1024 : process.memoryUsage().rss / 2 ** 20;
}

/**
 * The kernel keeps a peak only for the total RSS; sample its parts: anonymous memory (heap,
 * malloc) and file-backed pages (the node binary, and the LevelDB tables it memory-maps).
 */
const peaks = { anonMb: 0, fileMb: 0 };
const sampler = setInterval(() => {
  const status = readFileSync('/proc/self/status', 'utf8');
  const kb = (name) => Number(new RegExp(`${name}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0);
  peaks.anonMb = Math.max(peaks.anonMb, kb('RssAnon') / 1024);
  peaks.fileMb = Math.max(peaks.fileMb, kb('RssFile') / 1024);
}, 100);
sampler.unref();

let filled;
const done = new Promise((r) => (filled = r));

/** Pushes batches of 100 readings as fast as the journal accepts them. */
const flood = {
  name: 'flood',
  n: 0,
  async start(sink) {
    void (async () => {
      while (this.n < target) {
        const now = Date.now();
        await sink(Array.from({ length: 100 }, (_, i) => ({ source: `dev-${i % 10}`, point: `p${i}`, value: this.n++, quality: 'good', unit: 'degC', receivedAt: now })));
      }
      filled();
    })();
  },
  async stop() {},
  health() {
    return { state: 'running', sources: {} };
  },
};

const config = parseConfig(
  { hub: { connectionString }, dataDir, forwarding: { maxMessageBytes: 256 * 1024, maxInFlight: 8, lingerMs: 0, retryInitialMs: 100, retryMaxMs: 300 } },
  'bench child config',
);
const transport = new ConnectionSupervisor({
  connectionString,
  ca: readFileSync(caFile, 'utf8'),
  sas: config.hub.sas,
  sendTimeoutMs: config.forwarding.sendTimeoutMs,
  connectTimeoutMs: config.forwarding.connectTimeoutMs,
  keepAliveSeconds: config.forwarding.keepAliveSeconds,
  connection: { ...config.connection, reconnectInitialMs: 100, reconnectMaxMs: 300 },
  clock: systemClock,
  logger: silentLogger,
});
const started = performance.now();
const agent = await EdgeAgent.start({ config, deviceId: 'bench-gw', drivers: [flood], transport, clock: systemClock, logger: silentLogger });
await done;
while (agent.stats().journalBacklog > 0) await new Promise((r) => setTimeout(r, 50));
const ingestS = (performance.now() - started) / 1000;
process.stdout.write(`filled ${JSON.stringify({ ingestS, peakRssMb: peakRssMb(), ...peaks, outbox: agent.stats().outboxDepth, bytes: agent.stats().storage.bytes })}\n`);
// The parent now lets the hub accept connections.
const drainStart = performance.now();
while (!(await agent.drain(600_000)));
const drainS = (performance.now() - drainStart) / 1000;
process.stdout.write(`drained ${JSON.stringify({ drainS, peakRssMb: peakRssMb(), units: agent.stats().forwarder.unitsBilled, records: agent.stats().forwarder.recordsAcked })}\n`);
await agent.stop(0);
