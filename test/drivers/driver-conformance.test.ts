import { systemClock } from '../../agent/core/clock.js';
import { ModbusDriver } from '../../drivers/modbus/driver.js';
import { SerialLineDriver } from '../../drivers/serial-line/driver.js';
import { SyntheticDriver } from '../../drivers/synthetic/synthetic-driver.js';
import { startLineSensorDemo, startRtuDemoSimulator, startTcpDemoSimulator } from '../../drivers/simulators/demo.js';
import { driverConformance } from './driver-conformance.js';

driverConformance('ModbusDriver over TCP', async () => {
  const sim = await startTcpDemoSimulator({ registers: 3, pollMs: 20 });
  return { driver: new ModbusDriver(sim.driverConfig), sources: ['sim-tcp-1'], provoke: async () => undefined, close: sim.close };
});

driverConformance('ModbusDriver over RTU (pty)', async () => {
  const sim = await startRtuDemoSimulator({ slaves: 2, registers: 3, pollMs: 20 });
  return { driver: new ModbusDriver(sim.driverConfig), sources: ['sim-rtu-1', 'sim-rtu-2'], provoke: async () => undefined, close: sim.close };
});

driverConformance('SerialLineDriver (pty)', async () => {
  const sim = await startLineSensorDemo({ periodMs: 60_000 });
  return {
    driver: new SerialLineDriver(sim.driverConfig),
    sources: ['weather-1'],
    provoke: async () => {
      await sim.simulator.send();
    },
    close: sim.close,
  };
});

driverConformance('SyntheticDriver', async () => ({
  driver: new SyntheticDriver({ name: 'synthetic', source: 'synth-1', intervalMs: 20, points: [{ name: 'p0' }, { name: 'p1', unit: 'C' }], clock: systemClock }),
  sources: ['synth-1'],
  provoke: async () => undefined,
  close: async () => undefined,
}));
