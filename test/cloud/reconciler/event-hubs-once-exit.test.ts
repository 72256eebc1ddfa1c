import { join } from 'node:path';
import type { Client } from 'azure-iot-device';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IotHubEmulator } from '../../../cloud/iothub/index.js';
import { runCli } from '../../support/cli.js';
import { tempDir } from '../../support/tmp.js';
import { connectSdkDevice, sendWire } from './support/sdk-device.js';
import { AgentScript, packMessage } from './support/wire-builder.js';

/**
 * A `--once` run takes about two seconds here; one that has not exited after this was hanging
 * (it is SIGKILLed, so the test fails on its signal instead of timing out itself).
 */
const RUN_LIMIT_MS = 30_000;
/**
 * Runs with nothing left to read, one after the other on the same store. Without the fix about
 * half of them hung (rhea's connection re-opened after an aborted open, then its 120 s idle timer
 * kept the process alive), so ten back-to-back runs met it on every try.
 */
const EMPTY_RUNS = 10;
const RECORDS = 40;

/**
 * `edge-agent cloud run --event-hubs … --once` as cron runs it: the real CLI, the real
 * EventHubConsumerClient, the emulator's AMQP Event Hub-compatible endpoint. A run that finds
 * nothing to read decides it is done before the client has finished connecting, and closes it
 * then; that must end the process as promptly as a run that read something.
 */
describe('cloud run --event-hubs --once exits, also when there is nothing left to read', () => {
  let hub: IotHubEmulator;
  let device: Client | undefined;
  const hubDir = tempDir('eh-once-hub');
  const work = tempDir('eh-once-cli');

  beforeAll(async () => {
    hub = await IotHubEmulator.start({ dataDir: hubDir.path, amqpPort: 0 });
    device = await connectSdkDevice(hub, 'cron-dev');
    const agent = new AgentScript('cron-dev', 'boot-1');
    const records = Array.from({ length: RECORDS }, (_, i) => agent.reading({ t: 1_000 + i, at: 1_000 + i, src: 's', pt: 'p', v: i, q: 'good' }));
    for (let i = 0; i < records.length; i += 10) await sendWire(device, packMessage('cron-dev', 'boot-1', records.slice(i, i + 10)));
  }, 60_000);
  afterAll(async () => {
    await device?.close();
    await hub?.stop();
    hubDir.cleanup();
    work.cleanup();
  });

  it(`reads what is there, then ${EMPTY_RUNS} runs in a row on the same store find nothing and each exits 0`, { timeout: (EMPTY_RUNS + 1) * RUN_LIMIT_MS + 10_000 }, async () => {
    const store = `sqlite:${join(work.path, 'cron.db')}`;
    const once = () => runCli(['cloud', 'run', '--event-hubs', hub.eventHubsConnectionString()!, '--store', store, '--once'], { EDGE_LOG_LEVEL: 'warn' }, RUN_LIMIT_MS);

    const first = await once();
    expect(first).toMatchObject({ code: 0, signal: null, stderr: '' });
    expect(first.stdout).toMatch(new RegExp(`^events=4 accepted=${RECORDS} duplicates=0 rejected=0 .*reconciledRows=${RECORDS} `));

    const outcomes: string[] = [];
    for (let i = 0; i < EMPTY_RUNS; i++) {
      const run = await once();
      // A hung run shows as SIGKILL here, with what it printed before it hung.
      outcomes.push(`${run.code ?? run.signal} ${run.stdout.trim()} ${run.stderr.trim()}`.trim());
    }
    const expected = `0 events=0 accepted=0 duplicates=0 rejected=0 rejectedRecords=0 resendRequests=0 reconciledRows=${RECORDS} openGaps=0 lostRecords=0`;
    expect(outcomes).toEqual(Array.from({ length: EMPTY_RUNS }, () => expected));
  });
});
