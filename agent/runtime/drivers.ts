import { createDriver } from '../../drivers/registry.js';
import type { Clock } from '../core/clock.js';
import type { Driver } from '../core/driver.js';
import type { Logger } from '../core/logger.js';
import type { DriverConfig } from '../config/schema.js';

/**
 * Builds the configured drivers; the config has been validated already. drivers/registry.ts
 * loads each driver's module only when a config names it: serialport alone costs a Modbus TCP
 * gateway ~10 MB. Each driver logs as module `drivers.<type>` (set here, once: a driver adds only its name).
 */
export async function createDrivers(configs: DriverConfig[], deps: { clock: Clock; logger: Logger }): Promise<Driver[]> {
  const drivers: Driver[] = [];
  for (const config of configs) {
    drivers.push(await createDriver(config, { clock: deps.clock, logger: deps.logger.child({ module: `drivers.${config.type}` }) }));
  }
  return drivers;
}
