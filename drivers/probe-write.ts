import { EdgeError } from '../agent/core/errors.js';
import type { PointWriteResult } from '../agent/core/point-write.js';
import { parseModbusConfig } from './config.js';
import { planWrite, valueFromText, writeAndVerify, writeError } from './modbus/point-write.js';
import { RtuTransport } from './modbus/rtu-transport.js';
import { TcpTransport } from './modbus/tcp-transport.js';
import type { ModbusTransport } from './modbus/transport.js';

export interface ProbeWriteOptions {
  /** A Modbus driver's config section (as in the agent's config file, `type` left out). */
  driverConfig: unknown;
  device: string;
  point: string;
  /** As typed on the command line: read the way the point's type reads it. */
  valueText: string;
}

/**
 * The commissioning side of `writePoint` (`edge-agent modbus write`): one allow-listed write of
 * a configured point, read back, without a running agent (whose port it would otherwise share).
 * The same checks and codec as the driver's; the same errors (EDGE_WRITE_REFUSED,
 * EDGE_DEVICE_EXCEPTION naming the exception, EDGE_WRITE_UNVERIFIED, EDGE_DEVICE_*).
 */
export async function probeWritePoint(o: ProbeWriteOptions): Promise<PointWriteResult> {
  const config = parseModbusConfig(o.driverConfig);
  const device = config.devices.find((d) => d.name === o.device);
  if (!device) throw new EdgeError('EDGE_USAGE', `driver "${config.name}" has no device "${o.device}" (devices: ${config.devices.map((d) => d.name).join(', ')})`);
  const point = device.points.find((p) => p.name === o.point);
  if (!point) throw new EdgeError('EDGE_USAGE', `device "${device.name}" has no point "${o.point}" (points: ${device.points.map((p) => p.name).join(', ')})`);
  const t = device.transport;
  const transport: ModbusTransport =
    t.kind === 'rtu'
      ? new RtuTransport({ path: t.path, baudRate: t.baudRate, parity: t.parity, dataBits: t.dataBits, stopBits: t.stopBits, reopen: false })
      : new TcpTransport({ host: t.host, port: t.port, reopen: false, connectTimeoutMs: device.timeoutMs });
  const where = `device "${device.name}" point "${point.name}" (${point.table} ${point.address}, unit ${device.unitId} on ${transport.description})`;
  const value = valueFromText(point, o.valueText);
  planWrite(where, point, value); // a refusal needs no port
  try {
    await transport.open();
    const done = await writeAndVerify((pdu) => transport.request(device.unitId, pdu, device.timeoutMs), device.unitId, where, point, value);
    return { device: device.name, point: point.name, requested: value, written: done.written, readBack: done.readBack, function: done.function, at: Date.now(), ...(point.unit !== undefined ? { unit: point.unit } : {}) };
  } catch (err) {
    throw writeError(err, where);
  } finally {
    await transport.close();
  }
}
