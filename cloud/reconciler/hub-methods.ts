import { EdgeError } from '../../agent/core/errors.js';
import { HubServiceClient, readRuntimeInfo } from '../iothub/index.js';
import type { MethodInvoker, MethodResponse } from './resend.js';

/**
 * The service-side call both faces of the IoT Hub emulator offer (`IotHubEmulator.invokeMethod`
 * in process, `HubServiceClient.invokeMethod` over its HTTP service API). Typed structurally so
 * the reconciler depends on the shape, not on the emulator's internals.
 */
export interface HubMethodFace {
  invokeMethod(deviceId: string, methodName: string, payload?: unknown, options?: { responseTimeoutMs?: number }): Promise<MethodResponse>;
}

/** Direct methods through the hub: what the reconciler uses to ask a device to resend. */
export function hubMethodInvoker(hub: HubMethodFace): MethodInvoker {
  return {
    invoke: (deviceId, method, payload, timeoutMs) => hub.invokeMethod(deviceId, method, payload, { responseTimeoutMs: timeoutMs }),
  };
}

/**
 * Direct methods through whichever emulator is running on `dataDir`, found through its runtime
 * file on every call: the reconciler may start before the emulator, and the emulator may
 * restart on another port. No running emulator (or one without its HTTP service API) fails the
 * call as EDGE_HUB_DEVICE_OFFLINE, which leaves the gap open for the next attempt.
 */
export function dataDirMethodInvoker(dataDir: string): MethodInvoker {
  let current: { url: string; client: HubServiceClient } | undefined;
  return {
    async invoke(deviceId, method, payload, timeoutMs) {
      const info = await readRuntimeInfo(dataDir);
      if (!info || info.servicePort === null) {
        throw new EdgeError('EDGE_HUB_DEVICE_OFFLINE', `no running IoT Hub emulator with a service API on ${dataDir}; cannot call ${method} on ${deviceId}`);
      }
      const url = `http://127.0.0.1:${info.servicePort}`;
      if (current?.url !== url) current = { url, client: new HubServiceClient(url) };
      return current.client.invokeMethod(deviceId, method, payload, { responseTimeoutMs: timeoutMs });
    },
  };
}
