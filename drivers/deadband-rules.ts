import { modbusDeadbands, parseModbusConfig } from './config.js';
import type { DeadbandRule } from './deadband.js';
import { parseSerialLineConfig, serialLineDeadbands } from './serial-line/config.js';
import { syntheticDeadbands, syntheticSettingsSchema } from './synthetic/config.js';

/** A driver's deadband rules, under the name its readings carry (`StampedReading.driver`). */
export interface DriverDeadbands {
  driver: string;
  rules: DeadbandRule[];
}

/**
 * The deadbands a validated `drivers[]` section configures, defaults resolved. Parses the section
 * again with its driver's own parser (it was validated already, so this does not throw on a
 * config the schema took); imports no driver implementation.
 */
// The section's shape as the registry's schema leaves it (typed here, not imported: the registry re-exports this module).
export function deadbandsOf(section: { type: 'synthetic' | 'modbus' | 'serial-line' } & Record<string, unknown>): DriverDeadbands {
  const { type, ...settings } = section;
  switch (type) {
    case 'synthetic': {
      const s = syntheticSettingsSchema.parse(settings);
      return { driver: s.name, rules: syntheticDeadbands(s) };
    }
    case 'modbus': {
      const c = parseModbusConfig(settings);
      return { driver: c.name, rules: modbusDeadbands(c) };
    }
    case 'serial-line': {
      const c = parseSerialLineConfig(settings);
      return { driver: c.name, rules: serialLineDeadbands(c) };
    }
  }
}
