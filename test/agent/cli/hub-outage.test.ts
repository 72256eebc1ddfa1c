import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, untilOutput } from '../../support/cli.js';
import { startCliAgent, type RunningCliAgent } from '../diagnostics/running-agent.js';

interface StatusJson {
  now: number;
  connection: { state: string; connectedAt?: number; disconnectedAt?: number; lastError?: { code: string; message: string; at: number } };
}

describe('status and send-test while the hub goes away and freezes (edge-agent run + local IoT Hub)', () => {
  let a: RunningCliAgent;
  const diag = (args: string[]) => runCli([...args, '--socket', a.socketPath]);
  const statusJson = async () => JSON.parse((await diag(['status', '--json'])).stdout) as StatusJson;
  let oldError: { code: string; message: string } | undefined;

  beforeAll(async () => {
    a = await startCliAgent({ deviceId: 'outage-gw' });
    if (!/"msg":"connected to IoT Hub"/.test(a.output())) await untilOutput(a.child.stdout, /"msg":"connected to IoT Hub"/);
  });
  afterAll(async () => {
    a?.hub.faults.clearAll();
    await a?.cleanup();
  });

  // Several CLI runs in sequence (a tsx start each: seconds on a loaded box).
  it('after the link is lost, status says disconnected since the loss (not since the connect), and --json carries the time', { timeout: 90_000 }, async () => {
    const connected = await statusJson();
    expect(connected.connection.state).toBe('connected');
    expect(connected.connection.disconnectedAt).toBeUndefined();
    a.hub.faults.refuseConnections({ mode: 'reset' });
    const lost = untilOutput(a.child.stdout, /"msg":"IoT Hub connection lost; reconnecting"[^\n]*\n/);
    const failed = untilOutput(a.child.stdout, /"msg":"cannot connect to IoT Hub/);
    const droppedAt = Date.now();
    expect(a.hub.faults.dropConnection('outage-gw')).toBe(true);
    const lostLine = (await lost).split('\n').find((l) => l.includes('IoT Hub connection lost'))!;
    expect(lostLine).not.toMatch(/\[object Object\]/);
    await failed;

    const s = await statusJson();
    expect(s.connection.state).not.toBe('connected');
    expect(s.connection.disconnectedAt).toBeGreaterThanOrEqual(droppedAt - 5);
    expect(s.connection.disconnectedAt).toBeGreaterThan(s.connection.connectedAt!);
    oldError = s.connection.lastError;
    expect(oldError).toBeDefined();

    const screen = (await diag(['status'])).stdout;
    const line = /^connection\s+(disconnected|connecting) since (.+) \((\S+)\)$/m.exec(screen);
    expect(line, screen).not.toBeNull();
    expect(Date.parse(line![3]!)).toBe(s.connection.disconnectedAt);
  });

  it('send-test against a hub that takes the message but never acknowledges reports its own timeout, not the old connection error', { timeout: 90_000 }, async () => {
    const back = untilOutput(a.child.stdout, /"generation":2,[^\n]*"msg":"connected to IoT Hub"/);
    a.hub.faults.acceptConnections();
    await back;
    a.hub.faults.holdAcks('outage-gw');
    const run = await diag(['send-test', '--timeout', '1500ms']);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/^NOT delivered within 2 s: EDGE_TRANSPORT_TIMEOUT: connected, but the hub acknowledged nothing within 1500 ms \(\d+ sends waiting for their acknowledgement\); connection connected;/);
    expect(run.stdout).not.toContain(oldError!.message);
    const json = JSON.parse((await diag(['send-test', '--timeout', '300ms', '--json'])).stdout) as { delivered: boolean; reason: { code: string }; lastSendError?: unknown };
    expect(json.delivered).toBe(false);
    expect(json.reason.code).toBe('EDGE_TRANSPORT_TIMEOUT');
    expect(json.lastSendError).toBeUndefined();
    a.hub.faults.releaseAcks('outage-gw');
  });
});
