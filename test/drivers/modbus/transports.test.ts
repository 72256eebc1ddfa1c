import { MemoryTransport } from '../../../drivers/modbus/memory-transport.js';
import { RtuTransport } from '../../../drivers/modbus/rtu-transport.js';
import { TcpTransport } from '../../../drivers/modbus/tcp-transport.js';
import { RtuSlaveSimulator } from '../../../drivers/simulators/rtu-slave.js';
import { TcpSlaveSimulator } from '../../../drivers/simulators/tcp-slave.js';
import { usePtyPairs } from '../support/pty.js';
import { transportConformance } from './transport-conformance.js';

const ptyPair = usePtyPairs();

transportConformance('RTU over a socat pty pair', async (slaves) => {
  const pair = await ptyPair();
  const simulator = await RtuSlaveSimulator.open({ path: pair.b, baudRate: 115200, slaves });
  const transport = new RtuTransport({ path: pair.a, baudRate: 115200 });
  return { transport, simulator, model: slaves.get(1)!, close: () => simulator.close() };
});

transportConformance('TCP over loopback', async (slaves) => {
  const simulator = await TcpSlaveSimulator.listen({ slaves });
  const transport = new TcpTransport({ host: simulator.host, port: simulator.port });
  return { transport, simulator, model: slaves.get(1)!, close: () => simulator.close() };
});

transportConformance('MemoryTransport (no I/O, for deterministic tests)', async (slaves) => {
  const transport = new MemoryTransport({ slaves });
  return { transport, simulator: transport, model: slaves.get(1)!, close: async () => undefined };
});
