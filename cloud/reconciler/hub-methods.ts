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
