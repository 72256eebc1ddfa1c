import { afterAll, describe, expect, it } from 'vitest';
import { IotHubEmulator } from '../../../cloud/iothub/index.js';
import { runCli } from '../../support/cli.js';
import { tempDir } from '../../support/tmp.js';

const hubCli = (args: string[]) => runCli(['hub', ...args]);

describe('edge-agent hub register --json and hub twin <id>', () => {
  const dir = tempDir('hub-twin');
  afterAll(() => dir.cleanup());

  // Five CLI runs (each a tsx start, seconds on a loaded 2-core box), three of them in sequence.
  it('register --json, set-desired, then twin: from the files, and from a running emulator', { timeout: 90_000 }, async () => {
    const reg = await hubCli(['register', 'twin-dev', '--json', '--data-dir', dir.path]);
    expect(reg.code, reg.stderr).toBe(0);
    const device = JSON.parse(reg.stdout) as { deviceId: string; connectionString: string; createdAt: number };
    expect(device.deviceId).toBe('twin-dev');
    expect(device.connectionString).toMatch(/^HostName=localhost:8883;DeviceId=twin-dev;SharedAccessKey=\S+$/);
    expect(await hubCli(['set-desired', 'twin-dev', '{"log":{"level":"debug"}}', '--data-dir', dir.path])).toMatchObject({ code: 0 });

    const [offline, unknown] = await Promise.all([hubCli(['twin', 'twin-dev', '--data-dir', dir.path]), hubCli(['twin', 'nosuch', '--data-dir', dir.path])]);
    expect(offline.code, offline.stderr).toBe(0);
    expect(JSON.parse(offline.stdout)).toEqual({ desired: { log: { level: 'debug' }, $version: 2 }, reported: { $version: 1 } });
    expect(offline.stdout).toMatch(/^\{\n {2}"desired"/);

    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toBe(`edge-agent: device nosuch is not registered in ${dir.path} [EDGE_HUB_DEVICE_UNKNOWN]\n`);

    const hub = await IotHubEmulator.start({ dataDir: dir.path, port: 0, servicePort: 0 });
    try {
      const [live, againRun] = await Promise.all([hubCli(['twin', 'twin-dev', '--json', '--data-dir', dir.path]), hubCli(['register', 'twin-dev', '--json', '--data-dir', dir.path])]);
      expect(live.code, live.stderr).toBe(0);
      expect(live.stdout.trimEnd().split('\n')).toHaveLength(1);
      expect(JSON.parse(live.stdout)).toMatchObject({ desired: { log: { level: 'debug' }, $version: 2 } });
      const again = JSON.parse(againRun.stdout) as { connectionString: string };
      expect(again.connectionString).toContain(`SharedAccessKey=${/SharedAccessKey=(\S+)$/.exec(device.connectionString)![1]}`);
    } finally {
      await hub.stop();
    }
  });
});
