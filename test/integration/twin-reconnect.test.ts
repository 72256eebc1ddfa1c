import { afterEach, describe, expect, it } from 'vitest';
import { IotHubEmulator } from '../../cloud/iothub/index.js';
import type { ConnectionEvent } from '../../agent/transport/connection-history.js';
import { tempDir } from '../support/tmp.js';
import { next, startTwinAgent } from '../agent/twin/support.js';

describe('twin: changes made while the device was offline', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it('are applied after the reconnect (full GET by $version), and the last good config is used at an offline boot', async () => {
    const hubDir = tempDir('twin-reconnect-hub');
    cleanups.push(hubDir.cleanup);
    let hub = await IotHubEmulator.start({ dataDir: hubDir.path });
    cleanups.push(() => hub.stop());
    const dev = await hub.registerDevice('twin-off');
    const data = tempDir('twin-reconnect');
    cleanups.push(data.cleanup);
    const run = await startTwinAgent(hub, dev.connectionString, data.path);
    let stopped = false;
    cleanups.push(async () => {
      if (!stopped) await run.agent.stop(0);
    });
    await next(run.reported, 'sent', (p) => p.agent !== undefined);

    // Offline: the hub refuses the device, and the operator changes the twin meanwhile.
    hub.faults.refuseConnections({ mode: 'server-unavailable' });
    const lost = next(run.transport.events, 'history', (e) => (e as ConnectionEvent).event === 'lost');
    hub.faults.dropConnection('twin-off');
    await lost;
    const change = await hub.updateDesired('twin-off', { forwarding: { lingerMs: 33 }, log: { level: 'warn' } });
    expect(change.pushed).toBe(false); // never pushed: the device must GET it
    await next(run.transport.events, 'history', (e) => (e as ConnectionEvent).event === 'failed');
    expect(run.twin.config.forwarding.lingerMs).toBe(20);

    const applied = next(run.twin.events, 'applied');
    hub.faults.acceptConnections();
    expect((await applied)[0]).toBe(change.version);
    expect(run.transport.status().generation).toBe(2);
    expect(run.twin.config.forwarding.lingerMs).toBe(33);
    await next(run.reported, 'sent', (p) => (p.config as { version?: number } | undefined)?.version === change.version);
    expect(hub.getTwin('twin-off').reported.config).toMatchObject({ version: change.version, source: 'twin' });

    // Reboot with no hub at all: the saved desired config is in force before any connection.
    await run.agent.stop(5000);
    stopped = true;
    await hub.stop();
    hub = await IotHubEmulator.start({ dataDir: hubDir.path });
    hub.faults.refuseConnections({ mode: 'reset' });
    const again = await startTwinAgent(hub, dev.connectionString.replace(/localhost:\d+/, hub.hostName), data.path);
    cleanups.push(() => again.agent.stop(0));
    expect(again.transport.status().state).not.toBe('connected');
    expect(again.twin.configStatus()).toMatchObject({ version: change.version, source: 'last-good' });
    expect(again.twin.config.forwarding.lingerMs).toBe(33);
    expect(again.twin.config.log.level).toBe('warn');
  });
});
