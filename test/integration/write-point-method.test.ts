import { afterEach, describe, expect, it } from 'vitest';
import type { EventRecord } from '../../agent/core/wire.js';
import { SlaveModel } from '../../drivers/simulators/slave-model.js';
import { TcpSlaveSimulator } from '../../drivers/simulators/tcp-slave.js';
import { startTwinAgent } from '../agent/twin/support.js';
import { recordsOf, startHub, untilTelemetry } from '../support/hub.js';
import { tempDir } from '../support/tmp.js';

/** The `point.write` audit events the hub has received from `deviceId`, in seq order. */
async function audits(hub: Parameters<typeof recordsOf>[0], deviceId: string): Promise<EventRecord[]> {
  const all = await recordsOf(hub, deviceId);
  return all.filter((r): r is EventRecord => r.kind === 'event' && r.name === 'point.write').sort((a, b) => a.seq - b.seq);
}

describe('direct method writePoint, through the SDK and the emulator', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it('writes an allow-listed point and answers with the value read back; refusals are answered clearly; every call reaches the hub as an audit event', async () => {
    const { hub, close } = await startHub();
    cleanups.push(close);
    const dev = await hub.registerDevice('writer');
    const model = new SlaveModel();
    const sim = await TcpSlaveSimulator.listen({ slaves: { 1: model } });
    cleanups.push(() => sim.close());
    const data = tempDir('write-point');
    cleanups.push(data.cleanup);
    const run = await startTwinAgent(hub, dev.connectionString, data.path, {
      drivers: [
        {
          type: 'modbus',
          name: 'plc',
          devices: [
            {
              name: 'boiler',
              transport: { kind: 'tcp', host: sim.host, port: sim.port },
              unitId: 1,
              pollMs: 100,
              timeoutMs: 500,
              points: [
                { name: 'setpoint', table: 'holding', address: 10, type: 'float32', order: 'CDAB', writable: true, min: 5, max: 80, unit: 'degC' },
                { name: 'level', table: 'holding', address: 20, type: 'uint16', scale: 0.1 },
                { name: 'far', table: 'holding', address: 30, writable: true },
              ],
            },
          ],
        },
      ],
    });
    cleanups.push(() => run.agent.stop(0));
    await untilTelemetry(hub, async () => (await recordsOf(hub, 'writer')).length >= 3 && hub.subscriptions('writer').methods);

    const ok = await hub.invokeMethod('writer', 'writePoint', { driver: 'plc', device: 'boiler', point: 'setpoint', value: 42.5, by: 'operator@example' });
    expect(ok).toEqual({ status: 200, payload: expect.objectContaining({ driver: 'plc', device: 'boiler', point: 'setpoint', requested: 42.5, readBack: 42.5, unit: 'degC', function: 16 }) });
    // 42.5f is 0x422A0000; CDAB puts the low word first.
    expect([model.holding[10], model.holding[11]]).toEqual([0x0000, 0x422a]);

    const notWritable = await hub.invokeMethod('writer', 'writePoint', { driver: 'plc', device: 'boiler', point: 'level', value: 1 });
    expect(notWritable).toMatchObject({ status: 403, payload: { error: { code: 'EDGE_WRITE_REFUSED', message: expect.stringContaining('is not writable') } } });
    const outOfRange = await hub.invokeMethod('writer', 'writePoint', { driver: 'plc', device: 'boiler', point: 'setpoint', value: 81, by: 'operator@example' });
    expect(outOfRange).toMatchObject({ status: 403, payload: { error: { code: 'EDGE_WRITE_REFUSED', message: expect.stringContaining('above its max 80') } } });
    model.setFault({ kind: 'exception', code: 2 });
    const exception = await hub.invokeMethod('writer', 'writePoint', { driver: 'plc', device: 'boiler', point: 'far', value: 3 });
    model.setFault({ kind: 'none' });
    expect(exception).toMatchObject({ status: 502, payload: { error: { code: 'EDGE_DEVICE_EXCEPTION', message: expect.stringContaining('ILLEGAL DATA ADDRESS (2)') } } });
    expect(await hub.invokeMethod('writer', 'writePoint', { driver: 'nope', device: 'boiler', point: 'far', value: 3 })).toMatchObject({ status: 404 });
    expect(await hub.invokeMethod('writer', 'writePoint', 'nonsense')).toMatchObject({ status: 400, payload: { error: { code: 'EDGE_USAGE' } } });
    expect(model.holding[10]).toBe(0x0000); // the refused 81 was never sent

    await untilTelemetry(hub, async () => (await audits(hub, 'writer')).length >= 6);
    const trail = await audits(hub, 'writer');
    expect(trail.map((r) => [r.data.point, r.data.outcome, r.data.by])).toEqual([
      ['setpoint', 'done', 'operator@example'],
      ['level', 'refused', 'direct method'],
      ['setpoint', 'refused', 'operator@example'],
      ['far', 'failed', 'direct method'],
      ['far', 'refused', 'direct method'],
      [undefined, 'refused', 'direct method'],
    ]);
    expect(trail[0]!.data).toMatchObject({ via: 'method', driver: 'plc', device: 'boiler', requested: 42.5, readBack: 42.5, written: 42.5, function: 16 });
    expect(trail[2]!.data).toMatchObject({ requested: 81, error: { code: 'EDGE_WRITE_REFUSED' } });
    expect(trail[3]!.data).toMatchObject({ error: { code: 'EDGE_DEVICE_EXCEPTION', message: expect.stringContaining('ILLEGAL DATA ADDRESS (2)') } });
    expect(trail.every((r) => Number.isFinite(r.t) && r.t <= Date.now())).toBe(true);
    // Audits and readings share one seq series: a seq the hub saw twice (at-least-once) is the same record.
    const bySeq = new Map<number, string>();
    for (const r of await recordsOf(hub, 'writer')) {
      const text = JSON.stringify(r);
      expect(bySeq.get(r.seq) ?? text, `seq ${r.seq}`).toBe(text);
      bySeq.set(r.seq, text);
    }
    expect(run.agent.lastWrites().map((w) => [w.driver, w.point, w.outcome])).toEqual([
      ['plc', 'setpoint', 'refused'],
      ['plc', 'level', 'refused'],
      ['plc', 'far', 'failed'],
    ]);
  });
});
