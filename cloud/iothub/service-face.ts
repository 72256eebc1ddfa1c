import type { C2DOptions, C2DResult } from './c2d.js';
import type { DeviceIdentity } from './device-registry.js';
import type { FaultInjector } from './faults.js';
import type { MessageLogReader } from './hub-event.js';
import type { InvokeOptions, MethodResult } from './methods.js';
import type { TwinDocument } from './twin-store.js';

export interface RegisteredDevice extends DeviceIdentity {
  /** `HostName=localhost:PORT;DeviceId=…;SharedAccessKey=<primary key>` */
  connectionString: string;
}

export interface DeviceInfo {
  deviceId: string;
  connected: boolean;
  connectedAt: number | null;
  createdAt: number;
}

/**
 * The emulator's service side as its HTTP face and service clients use it: registry, twins,
 * methods, C2D, the message log and the fault switches. `IotHubEmulator` implements it; the HTTP
 * face depends on this, not on the emulator, so neither imports the other.
 */
export interface ServiceFace {
  readonly hostName: string;
  readonly port: number;
  readonly caPem: string;
  readonly faults: FaultInjector;
  readonly messageLog: MessageLogReader;
  listDevices(): DeviceInfo[];
  registerDevice(deviceId: string): Promise<RegisteredDevice>;
  getDevice(deviceId: string): RegisteredDevice | undefined;
  removeDevice(deviceId: string): Promise<boolean>;
  getTwin(deviceId: string): TwinDocument;
  updateDesired(deviceId: string, patch: Record<string, unknown>): Promise<{ version: number; pushed: boolean }>;
  invokeMethod(deviceId: string, methodName: string, payload?: unknown, options?: InvokeOptions): Promise<MethodResult>;
  sendC2D(deviceId: string, body: Buffer | string, options?: C2DOptions): Promise<C2DResult>;
}
