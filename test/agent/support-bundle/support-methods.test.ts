import { afterEach, describe, expect, it } from 'vitest';
import { systemClock } from '../../../agent/core/clock.js';
import { silentLogger } from '../../../agent/core/logger.js';
import { parseConfig } from '../../../agent/config/load.js';
import { bindMethodsNowAndLater, supportMethodHandlers } from '../../../agent/methods/support-methods.js';
import { HubFileUpload } from '../../../agent/transport/file-upload.js';
import { buildLogsFile } from '../../../agent/support-bundle/bundle.js';
import { parseLogFilter } from '../../../agent/support-bundle/log-filter.js';
import { startHub } from '../../support/hub.js';
import { testTransport } from '../../support/agent.js';
import type { ConnectionSupervisor } from '../../../agent/transport/supervisor.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const noLogs = { deviceId: 'x', agentVersion: '0', boot: () => 'b', startedAt: () => 0, clock: systemClock, logs: () => [], status: () => Promise.resolve({}), buffer: () => Promise.resolve({}), config: () => Promise.resolve({}), secrets: () => [] };

function handlersFor(link: ConnectionSupervisor, deviceId: string, ca: string) {
  const uploader = new HubFileUpload({ link, deviceId, ca, timeoutMs: 20_000, clock: systemClock, logger: silentLogger });
  const logs = (payload: unknown) => Promise.resolve(buildLogsFile({ ...noLogs, deviceId, logs: () => [{ level: 30, time: Date.now(), msg: 'hello' }] }, parseLogFilter(payload, Date.now())));
  return supportMethodHandlers({ supportBundle: logs, logs, upload: (n, d) => uploader.upload(n, d) });
}

describe('support methods on the link', () => {
  it('bound after the link is up, they answer on the current client; a bad payload is 400, offline is 503', async () => {
    const { hub, close } = await startHub();
    cleanups.push(close);
    const dev = await hub.registerDevice('late');
    const config = parseConfig({ hub: { connectionString: dev.connectionString }, dataDir: '/unused' }, 'test');
    const link = testTransport(dev.connectionString, hub.caPem, config);
    cleanups.push(() => link.close());
    const connected = new Promise<void>((r) => link.onConnected(() => r()));
    link.start();
    await connected;
    const handlers = handlersFor(link, 'late', hub.caPem);
    const subscribed = new Promise<void>((r) => hub.on('subscribed', (id) => id === 'late' && hub.subscriptions('late').methods && r()));
    bindMethodsNowAndLater(link, handlers, silentLogger);
    await subscribed;

    const ok = await hub.invokeMethod('late', 'uploadLogs', { level: 'info' }, { responseTimeoutMs: 30_000 });
    expect(ok).toMatchObject({ status: 200, payload: { blobName: expect.stringMatching(/^late\/logs\/.+\.jsonl\.gz$/), logs: { lines: 1 } } });
    expect(hub.fileUploads()).toMatchObject([{ deviceId: 'late', notification: { isSuccess: true } }]);
    expect(await hub.invokeMethod('late', 'uploadLogs', { module: 7 })).toMatchObject({ status: 400, payload: { error: { code: 'EDGE_USAGE' } } });

    await link.close();
    expect(await handlers.uploadLogs!({})).toMatchObject({ status: 503, payload: { error: { code: 'EDGE_TRANSPORT_UNAVAILABLE' } } });
  });
});
