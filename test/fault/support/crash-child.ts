// A child agent for the SIGKILL test: ingests counted readings as fast as its sink accepts
// them and prints, after each accepted batch, the highest counter the journal now holds.
// The parent kills it at a random moment, so what it printed is a lower bound of what was
// accepted. Mode `drain` starts without a driver and exits once everything is acknowledged.
import { readFileSync } from 'node:fs';
import { systemClock } from '../../../agent/core/clock.js';
import type { Driver, DriverHealth, ReadingSink } from '../../../agent/core/driver.js';
import { silentLogger } from '../../../agent/core/logger.js';
import { parseConfig } from '../../../agent/config/load.js';
import { EdgeAgent } from '../../../agent/runtime/edge-agent.js';
import { testTransport } from '../../support/agent.js';

const [mode, dataDir, connectionString, caFile, roundText] = process.argv.slice(2) as [string, string, string, string, string];
const round = Number(roundText);
export const PER_ROUND = 10_000_000;

class CountingDriver implements Driver {
  readonly name = 'counting';
  private running = false;
  private loop: Promise<void> = Promise.resolve();
  private n = 0;

  async start(sink: ReadingSink): Promise<void> {
    this.running = true;
    this.loop = (async () => {
      while (this.running) {
        const now = Date.now();
        const batch = Array.from({ length: 10 }, () => ({ source: `round-${round}`, point: 'n', value: round * PER_ROUND + this.n++, quality: 'good' as const, receivedAt: now }));
        await sink(batch);
        process.stdout.write(`${this.n - 1}\n`);
        // ≥ 1,000 readings/s: 10 readings per millisecond-ish turn of the event loop.
        await new Promise((r) => setTimeout(r, 2));
      }
    })();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  health(): DriverHealth {
    return { state: this.running ? 'running' : 'stopped', sources: {} };
  }
}

const config = parseConfig(
  {
    hub: { connectionString },
    dataDir,
    forwarding: { lingerMs: 20, maxInFlight: 4, maxMessageBytes: 16 * 1024, retryInitialMs: 50, retryMaxMs: 500, sendTimeoutMs: 5000, connectTimeoutMs: 5000 },
  },
  'crash child config',
);
const transport = testTransport(connectionString, readFileSync(caFile, 'utf8'), config);
const drivers = mode === 'ingest' ? [new CountingDriver()] : [];
const agent = await EdgeAgent.start({ config, deviceId: 'crash-gw', drivers, transport, clock: systemClock, logger: silentLogger });
if (mode === 'drain') {
  while (!(await agent.drain(60_000)));
  await agent.stop(0);
  process.stdout.write(`drained ${JSON.stringify(agent.stats().forwarder)}\n`);
}
