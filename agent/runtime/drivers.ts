import type { Clock } from '../core/clock.js';
import type { Driver } from '../core/driver.js';
import type { Logger } from '../core/logger.js';
import type { DriverConfig } from '../config/schema.js';
import { ModbusDriver, SerialLineDriver } from '../../drivers/index.js';
import { SyntheticDriver } from '../../drivers/synthetic/synthetic-driver.js';

/** Builds the configured drivers; the config has been validated already. */
export function createDrivers(configs: DriverConfig[], deps: { clock: Clock; logger: Logger }): Driver[] {
  return configs.map((config) => {
    const { type, ...settings } = config;
    const logger = deps.logger.child({ module: `driver:${type}` });
    switch (config.type) {
      case 'synthetic':
        return new SyntheticDriver({ ...config, clock: deps.clock });
      case 'modbus':
        return new ModbusDriver(settings, { clock: deps.clock, logger });
      case 'serial-line':
        return new SerialLineDriver(settings, { clock: deps.clock, logger });
    }
  });
}
