// Benchmark child: an agent cut off from its hub
//   1. ingests `target` readings as fast as the journal accepts them (a burst far above any
//      plant's rate) and reports its peak RSS;
//   2. then, with that backlog waiting on disk, keeps running at `waitRate` readings/s for
//      `waitS` seconds (the hub still unreachable) and reports the peak RSS of that phase alone;
//   3. drains once the hub takes connections, and reports again.
// It runs the built agent (dist/, as a gateway does), not the TypeScript sources through tsx,
// and composes it as `edge-agent run` does (startAgentFromConfig: twin, methods, transport),
// with the flood as its one driver, so the memory figures are the product's.
import { readFileSync, writeFileSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import { systemClock } from '../../../dist/agent/core/clock.js';
import { silentLogger } from '../../../dist/agent/core/logger.js';
import { parseConfig } from '../../../dist/agent/config/load.js';
import { startAgentFromConfig } from '../../../dist/agent/runtime/build-agent.js';

const [dataDir, connectionString, caFile, targetText, waitRateText, waitSText] = process.argv.slice(2);
const target = Number(targetText);
const waitRate = Number(waitRateText);
const waitS = Number(waitSText);

const statusKb = (name) => Number(new RegExp(`${name}:\\s+(\\d+) kB`).exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? 0);

/**
 * The kernel keeps a peak only for the total RSS (VmHWM); sample its parts: anonymous memory
 * (heap, malloc) and file-backed pages (the node binary, and the LevelDB tables it maps).
 */
let peaks = { anonMb: 0, fileMb: 0 };
const sampler = setInterval(() => {
  peaks.anonMb = Math.max(peaks.anonMb, statusKb('RssAnon') / 1024);
  peaks.fileMb = Math.max(peaks.fileMb, statusKb('RssFile') / 1024);
}, 100);
sampler.unref();

/** The peak since the last reset, then a new phase: writing 5 to clear_refs resets VmHWM. */
function takePeak() {
  const taken = { peakRssMb: statusKb('VmHWM') / 1024, ...peaks };
  writeFileSync('/proc/self/clear_refs', '5');
  peaks = { anonMb: 0, fileMb: 0 };
  return taken;
}

/** Batches of 100 readings: as fast as the journal accepts them, then paced, then none. */
const flood = {
  name: 'flood',
  n: 0,
  mode: 'burst',
  async start(sink) {
    void (async () => {
      while (this.mode !== 'stopped') {
        const now = Date.now();
        await sink(Array.from({ length: 100 }, (_, i) => ({ source: `dev-${i % 10}`, point: `p${i}`, value: this.n++, quality: 'good', unit: 'degC', receivedAt: now })));
        if (this.mode === 'burst' && this.n >= target) this.mode = 'paced';
        if (this.mode === 'paced') await delay(100_000 / waitRate);
      }
    })();
  },
  async stop() {
    this.mode = 'stopped';
  },
  health() {
    return { state: 'running', sources: {} };
  },
};

const config = parseConfig(
  {
    hub: { connectionString, caFile },
    dataDir,
    forwarding: { maxMessageBytes: 256 * 1024, maxInFlight: 8, lingerMs: 0, retryInitialMs: 100, retryMaxMs: 300 },
    connection: { reconnectInitialMs: 100, reconnectMaxMs: 300 },
  },
  'bench child config',
);
const started = performance.now();
const { agent } = await startAgentFromConfig(config, { clock: systemClock, logger: silentLogger, extraDrivers: [flood] });
while (flood.mode === 'burst' || agent.stats().journalBacklog > 0) await delay(50);
const ingestS = (performance.now() - started) / 1000;
process.stdout.write(`filled ${JSON.stringify({ ingestS, ...takePeak(), outbox: agent.stats().outboxDepth, bytes: agent.stats().storage.bytes })}\n`);

await delay(waitS * 1000);
flood.mode = 'stopped';
process.stdout.write(`waited ${JSON.stringify({ ...takePeak(), outbox: agent.stats().outboxDepth, readings: flood.n })}\n`);

// The parent now lets the hub accept connections.
const drainStart = performance.now();
while (!(await agent.drain(600_000)));
const drainS = (performance.now() - drainStart) / 1000;
process.stdout.write(`drained ${JSON.stringify({ drainS, ...takePeak(), units: agent.stats().forwarder.unitsBilled, records: agent.stats().forwarder.recordsAcked })}\n`);
await agent.stop(0);
