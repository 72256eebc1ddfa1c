import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../agent/config/load.js';
import { configProvenance, redact } from '../../../agent/diagnostics/provenance.js';
import { LogControl } from '../../../agent/diagnostics/log-control.js';
import { PipelineHealth } from '../../../agent/systemd/health.js';
import { SystemdNotifier } from '../../../agent/systemd/notify.js';
import { silentLogger } from '../../../agent/core/logger.js';
import type { Clock } from '../../../agent/core/clock.js';

const CS = 'HostName=h;DeviceId=d;SharedAccessKey=c2VjcmV0';

describe('config provenance', () => {
  const doc = { hub: { connectionString: CS }, dataDir: '/var/lib/edge-agent', forwarding: { lingerMs: 250 } };
  const file = parseConfig(doc, 'test');

  it('tells values the file sets from defaults', () => {
    const p = configProvenance({ effective: file, fileConfig: file, fileDocument: doc });
    expect(p['dataDir']).toBe('file');
    expect(p['forwarding.lingerMs']).toBe('file');
    expect(p['forwarding.maxInFlight']).toBe('default');
    expect(p['drivers']).toBe('default');
  });

  it('the twin seam: values an overlay changed are the twin’s, whatever the file said', () => {
    const effective = parseConfig({ ...doc, forwarding: { lingerMs: 500, maxInFlight: 8 }, log: { level: 'debug' } }, 'overlaid');
    const p = configProvenance({ effective, fileConfig: file, fileDocument: doc });
    expect(p['forwarding.lingerMs']).toBe('twin');
    expect(p['forwarding.maxInFlight']).toBe('twin');
    expect(p['log.level']).toBe('twin');
    expect(p['dataDir']).toBe('file');
    expect(p['storage.quotaBytes']).toBe('default');
  });

  it('redacts keys and passphrases', () => {
    const r = redact({ hub: { connectionString: CS, x509: { passphrase: 'p' } } });
    expect(r.hub.connectionString).toBe('HostName=h;DeviceId=d;SharedAccessKey=***');
    expect(r.hub.x509.passphrase).toBe('***');
  });
});

describe('LogControl', () => {
  const sink = () => {
    const lines: string[] = [];
    return { lines, out: { write: (l: string) => (lines.push(l), true) } };
  };

  it('keeps recent lines, feeds followers, and changes levels per module at run time', () => {
    const { lines, out } = sink();
    const logs = new LogControl('info', out, 3);
    const fwd = logs.logger.child({ module: 'forwarder' });
    const pipe = logs.logger.child({ module: 'pipeline' });
    fwd.debug('hidden');
    expect(lines).toHaveLength(0);
    const followed: string[] = [];
    const stop = logs.follow((e) => followed.push(String(e.msg)));
    expect(logs.setLevel('debug', 'forwarder')).toMatchObject({ '*': 'info', forwarder: 'debug', pipeline: 'info' });
    fwd.debug('shown');
    pipe.debug('still hidden');
    // A child made later for the same module gets the module's level.
    logs.logger.child({ module: 'forwarder' }).debug('new child');
    expect(followed).toEqual(['shown', 'new child']);
    stop();
    logs.setLevel('warn');
    fwd.info('quiet now');
    for (let i = 0; i < 5; i++) pipe.warn(`w${i}`);
    expect(logs.tail(10).map((e) => e.msg)).toEqual(['w2', 'w3', 'w4']);
    expect(lines).toHaveLength(7);
  });
});

describe('PipelineHealth (what feeds the watchdog)', () => {
  const clockAt = () => {
    let t = 0;
    return { clock: { now: () => t } as unknown as Clock, advance: (ms: number) => (t += ms) };
  };

  it.each([
    { name: 'idle pipeline (nothing journaled) is healthy forever', backlog: 0, moving: false, healthyAfterStall: true },
    { name: 'moving pipeline is healthy', backlog: 50, moving: true, healthyAfterStall: true },
    { name: 'journal held without progress past stallMs is unhealthy', backlog: 50, moving: false, healthyAfterStall: false },
  ])('$name', ({ backlog, moving, healthyAfterStall }) => {
    const { clock, advance } = clockAt();
    let readings = 100;
    const h = new PipelineHealth(() => ({ readings, journalBacklog: backlog }), clock, 1000);
    expect(h.check().healthy).toBe(true);
    for (let i = 0; i < 5; i++) {
      advance(400);
      if (moving) readings += 10;
      h.check();
    }
    const last = h.check();
    expect(last.healthy).toBe(healthyAfterStall);
    if (!healthyAfterStall) expect(last.reason).toMatch(/held 50 journaled readings without progress/);
  });
});

describe('SystemdNotifier', () => {
  it('is a no-op without NOTIFY_SOCKET and reads the watchdog period only when meant for this pid', async () => {
    expect(await new SystemdNotifier(silentLogger, {}).notify({ READY: 1 })).toBe(false);
    expect(new SystemdNotifier(silentLogger, { NOTIFY_SOCKET: '/x', WATCHDOG_USEC: '20000000' }).watchdogMs).toBe(20_000);
    expect(new SystemdNotifier(silentLogger, { NOTIFY_SOCKET: '/x', WATCHDOG_USEC: '20000000', WATCHDOG_PID: '1' }).watchdogMs).toBeUndefined();
  });

  it('sends KEY=VALUE assignments through the notify command', async () => {
    const { mkdtempSync, writeFileSync, readFileSync, chmodSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(join(tmpdir(), 'edge-notify-'));
    const fake = join(dir, 'systemd-notify');
    writeFileSync(fake, `#!/bin/sh\nprintf '%s\\n' "$@" >> ${join(dir, 'got')}\n`);
    chmodSync(fake, 0o755);
    const n = new SystemdNotifier(silentLogger, { NOTIFY_SOCKET: '/run/systemd/notify' }, fake);
    expect(await n.ready('running')).toBe(true);
    expect(readFileSync(join(dir, 'got'), 'utf8')).toBe(`READY=1\nSTATUS=running\nMAINPID=${process.pid}\n`);
  });
});
