import type { Command } from 'commander';
import { EdgeError, errorMessage, isEdgeError } from '../../core/errors.js';
import { DEFAULT_CONFIG_PATH } from './run.js';

interface WriteFlags {
  config: string;
  driver?: string;
  device: string;
  point: string;
  value: string;
  by?: string;
  json?: boolean;
}

/**
 * `edge-agent modbus write`: the same allow-listed, read-back write as the `writePoint` direct
 * method, from the box, without a running agent. The point comes from the config file (it must
 * be `writable` there, within its min/max); the audit record waits in the data dir and goes to
 * the cloud at the agent's next start.
 */
export function registerModbusWrite(modbus: Command): void {
  modbus
    .command('write')
    .description('write one configured, writable point (read back and audited), without a running agent')
    .option('-c, --config <path>', 'config file', process.env.EDGE_AGENT_CONFIG ?? (process.env.CONFIGURATION_DIRECTORY ? `${process.env.CONFIGURATION_DIRECTORY}/config.json` : DEFAULT_CONFIG_PATH))
    .option('--driver <name>', 'Modbus driver name in the config (default: the only one)')
    .requiredOption('--device <name>', 'device name in the config')
    .requiredOption('--point <name>', 'point name in the config')
    .requiredOption('--value <v>', 'value in engineering units (true/false for a coil)')
    .option('--by <who>', 'who is writing, for the audit record (default: cli)')
    .option('--json', 'print JSON instead of text')
    .action(async (f: WriteFlags) => {
      // Loaded here, not with the command: the config schema brings every driver's settings.
      const { loadConfigFile } = await import('../../config/load.js');
      const { spoolAudit } = await import('../../methods/audit-spool.js');
      const { WRITE_AUDIT_EVENT } = await import('../../methods/write-point.js');
      const config = loadConfigFile(f.config);
      const modbusDrivers = config.drivers.filter((d) => d.type === 'modbus');
      const nameOf = (d: (typeof modbusDrivers)[number]): string => (d as { name?: string }).name ?? 'modbus';
      const section = f.driver === undefined ? (modbusDrivers.length === 1 ? modbusDrivers[0] : undefined) : modbusDrivers.find((d) => nameOf(d) === f.driver);
      if (!section) {
        const names = modbusDrivers.map(nameOf);
        throw new EdgeError('EDGE_USAGE', f.driver === undefined ? `give --driver (Modbus drivers in ${f.config}: ${names.join(', ') || 'none'})` : `no Modbus driver "${f.driver}" in ${f.config} (Modbus drivers: ${names.join(', ') || 'none'})`);
      }
      const { type: _type, ...driverConfig } = section;
      const driverName = nameOf(section);
      const by = f.by ? `cli:${f.by}` : 'cli';
      const base = { by, via: 'cli', driver: driverName, device: f.device, point: f.point, requested: f.value };
      const audit = (data: Record<string, unknown>): void => {
        try {
          spoolAudit(config.dataDir, { name: WRITE_AUDIT_EVENT, t: Date.now(), data: { ...base, ...data } });
        } catch (err) {
          throw new EdgeError('EDGE_DATA_DIR_UNUSABLE', `the write's audit record could not be kept in ${config.dataDir} (run as the service's user or root): ${errorMessage(err)}`, { cause: err });
        }
      };
      const { probeWritePoint } = await import('../../../drivers/index.js');
      let result;
      try {
        result = await probeWritePoint({ driverConfig, device: f.device, point: f.point, valueText: f.value });
      } catch (err) {
        const code = isEdgeError(err) ? err.code : 'EDGE_INTERNAL';
        try {
          audit({ outcome: code === 'EDGE_WRITE_REFUSED' || code === 'EDGE_USAGE' ? 'refused' : 'failed', error: { code, message: errorMessage(err) } });
        } catch (auditErr) {
          process.stderr.write(`edge-agent: ${errorMessage(auditErr)}\n`);
        }
        throw err;
      }
      audit({ outcome: 'done', requested: result.requested, written: result.written, readBack: result.readBack, function: result.function, at: result.at });
      if (f.json) {
        process.stdout.write(JSON.stringify({ driver: driverName, ...result }) + '\n');
        return;
      }
      process.stdout.write(`${result.device} ${result.point}: wrote ${JSON.stringify(result.requested)}, read back ${JSON.stringify(result.readBack)}${result.unit ? ` ${result.unit}` : ''} (function ${result.function})\n`);
    });
}
