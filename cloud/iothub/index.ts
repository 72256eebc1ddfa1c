/**
 * Public face of the local IoT Hub emulator. Everything outside cloud/iothub imports from here.
 */
export { IotHubEmulator } from './emulator.js';
export type { EmulatorOptions, RegisteredDevice, DeviceInfo, DeviceSubscriptions, EmulatorEvents } from './emulator.js';
export type { HubEvent, MessageLogReader } from './hub-event.js';
export { openMessageLogReader, type ClosableMessageLogReader } from './message-log-reader.js';
export { MessageLog, partitionFor, DEFAULT_PARTITION_COUNT } from './message-log.js';
export { FaultInjector, type RefuseMode, type RefuseOptions, type FaultStatus } from './faults.js';
export type { MethodResult, InvokeOptions } from './methods.js';
export type { C2DOptions, C2DResult } from './c2d.js';
export { TwinStore, TwinPatchError, type TwinDocument, type TwinProperties, type VersionedProperties } from './twin-store.js';
export { createSasToken, parseSasToken, verifySasToken } from './sas.js';
export { decodePropertyBag, encodePropertyBag } from './property-bag.js';
export { DeviceRegistry, deviceConnectionString, type DeviceIdentity } from './device-registry.js';
export { HubServiceClient } from './service-client.js';
export { readRuntimeInfo, type RuntimeInfo } from './runtime-file.js';
export { loadTlsMaterial, type TlsMaterial } from './tls-certs.js';
export { openFileStoreReader, type UploadRecord } from './file-upload/file-store.js';
export { readEventHubsInfo, loadPolicies, eventHubsConnectionString, type EventHubsRuntimeInfo, type SharedAccessPolicy } from './amqp/index.js';
