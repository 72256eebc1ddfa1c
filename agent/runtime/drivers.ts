import type { Clock } from '../core/clock.js';
import type { Driver } from '../core/driver.js';
import type { Logger } from '../core/logger.js';
import type { DriverConfig } from '../config/schema.js';

/**
 * Builds the configured drivers; the config has been validated already. Each driver's module
 * is loaded only when a config names it: serialport alone costs a Modbus TCP gateway ~10 MB.
 */
export async function createDrivers(configs: DriverConfig[], deps: { clock: Clock; logger: Logger }): Promise<Driver[]> {
  const drivers: Driver[] = [];
  for (const config of configs) {
    const { type, ...settings } = config;
    const logger = deps.logger.child({ module: `driver:${type}` });
    switch (config.type) {
      case 'synthetic': {
        const { SyntheticDriver } = await import('../../drivers/synthetic/synthetic-driver.js');
        drivers.push(new SyntheticDriver({ ...config, clock: deps.clock }));
        break;
      }
      case 'modbus': {
        const { ModbusDriver } = await import('../../drivers/modbus/driver.js');
        drivers.push(new ModbusDriver(settings, { clock: deps.clock, logger }));
        break;
      }
      case 'serial-line': {
        const { SerialLineDriver } = await import('../../drivers/serial-line/driver.js');
        drivers.push(new SerialLineDriver(settings, { clock: deps.clock, logger }));
        break;
      }
    }
  }
  return drivers;
}
