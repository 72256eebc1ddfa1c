import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nmeaSentence } from '../../../drivers/serial-line/parsers/nmea.js';
import { LineSensorSimulator } from '../../../drivers/simulators/line-sensor.js';
import { openPtyPair, type PtyPair } from '../../../drivers/simulators/socat-pty.js';
import { runCli, spawnCli } from '../../support/cli.js';
import { startCliAgent, type RunningCliAgent } from '../diagnostics/running-agent.js';

interface FollowEvent {
  drivers: Record<string, { sources: Record<string, { skipped?: { lines: Record<string, number> } }> }>;
}

/** Reads `status --follow` (the agent pushes a report at least every second) until `done` holds. */
async function untilStatus(socket: string, done: (e: FollowEvent) => boolean): Promise<FollowEvent> {
  const child = spawnCli(['status', '--follow', '--socket', socket]);
  try {
    return await new Promise<FollowEvent>((resolve, reject) => {
      let buf = '';
      child.stdout.on('data', (d: Buffer) => {
        buf += d.toString();
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const e = JSON.parse(buf.slice(0, nl)) as FollowEvent;
          buf = buf.slice(nl + 1);
          if (done(e)) resolve(e);
        }
      });
      child.on('exit', (code) => reject(new Error(`status --follow ended (${code})`)));
    });
  } finally {
    child.kill('SIGTERM');
  }
}

describe('a line sensor that hears lines but yields no point says why (status, sensors)', () => {
  let pair: PtyPair;
  let sim: LineSensorSimulator;
  let a: RunningCliAgent;

  beforeAll(async () => {
    pair = await openPtyPair();
    sim = await LineSensorSimulator.open({ path: pair.b, line: () => '' });
    a = await startCliAgent({
      deviceId: 'mast-gw',
      config: { drivers: [{ type: 'serial-line', name: 'mast', sensors: [{ name: 'gps', path: pair.a, parser: { kind: 'nmea', sentences: ['GPGGA'] } }] }] },
    });
  });
  afterAll(async () => {
    await a?.cleanup();
    await sim?.close();
    await pair?.close();
  });

  it('counts the skipped sentences by address and shows them with the reason', async () => {
    for (const body of ['GPGSV,3,1,11', 'GPGSV,3,2,11', 'GPRMC,123519,A,4807.038,N,01131.000,W,022.4,084.4,230394,003.1,W']) await sim.send(nmeaSentence(body));
    const e = await untilStatus(a.socketPath, (s) => Object.values(s.drivers.mast?.sources.gps?.skipped?.lines ?? {}).reduce((n, c) => n + c, 0) >= 3);
    expect(e.drivers.mast!.sources.gps!.skipped).toEqual({ lines: { GPGSV: 2, GPRMC: 1 }, because: 'not among the sentences read (GPGGA)' });
    const [status, sensors] = await Promise.all([runCli(['status', '--socket', a.socketPath]), runCli(['sensors', '--socket', a.socketPath])]);
    expect(status.stdout).toContain('mast/gps: 3 lines skipped (GPGSV ×2, GPRMC ×1): not among the sentences read (GPGGA); no point read yet');
    expect(sensors.stdout).toContain('gps: 3 lines skipped (GPGSV ×2, GPRMC ×1): not among the sentences read (GPGGA); no point read yet');
  });
});
