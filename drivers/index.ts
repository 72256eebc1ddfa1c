/** The public face of drivers/: what the agent, the CLI, the demo and the tests import. */
export { ModbusDriver, defaultTransportFactory, type ModbusDriverOptions, type TransportFactory } from './modbus/driver.js';
export { parseModbusConfig, type ModbusDriverInput, type ModbusDriverConfig, type DeviceConfig, type PointConfig, type TransportConfig } from './config.js';
export type { ModbusTransport, TransportStats, ReopenOptions } from './modbus/transport.js';
export { RtuTransport, type RtuTransportOptions } from './modbus/rtu-transport.js';
export { TcpTransport, type TcpTransportOptions } from './modbus/tcp-transport.js';
export { decodeValue, encodeValue, registerCount, VALUE_TYPES, WORD_ORDERS, type ValueType, type WordOrder } from './modbus/codec.js';
export { readRequest, readResponseData, unpackBits, exceptionName, type Table } from './modbus/pdu.js';
export { planReads, type ReadBlock } from './modbus/planner.js';
export { DeviceError } from './errors.js';
export { SlaveModel, type Fault, type Binding } from './simulators/slave-model.js';
export { signalValue, type Signal } from './simulators/signals.js';
export { RtuSlaveSimulator } from './simulators/rtu-slave.js';
export { TcpSlaveSimulator } from './simulators/tcp-slave.js';
export { openPtyPair, type PtyPair } from './simulators/socat-pty.js';
export { startTcpDemoSimulator, startRtuDemoSimulator, demoSignal, type DemoSimulator } from './simulators/demo.js';
export { probeRead, probeScan, probeTransport, type ProbeTarget, type ProbeReadOptions, type ProbeReadResult, type ProbeScanOptions, type ScanAnswer } from './probe.js';
