import type { TransportStatus } from '../core/transport.js';
import type deviceSdk from 'azure-iot-device';

/** The SDK's device client, as each fresh link hands it out. */
export type DeviceClient = InstanceType<typeof deviceSdk.Client>;

/**
 * What the twin and the direct methods need of the connection, and all they may touch: the
 * client of each fresh link, a way to say the hub was heard on it (a twin answer, a desired patch,
 * a method call prove the link alive as much as a PUBACK does), and the liveness probe to use.
 */
export interface HubLink {
  /** Calls `listener` with every fresh client (each reconnect builds one): attach to it. */
  onConnected(listener: (client: DeviceClient, generation: number) => void): void;
  onStatus(listener: (status: TransportStatus) => void): void;
  /** The connected client, if any. */
  readonly connectedClient: DeviceClient | undefined;
  /** Something was heard from the hub on the current link. */
  heard(): void;
  /**
   * The request a quiet link is probed with. The twin uses its own GET, which also reconciles
   * desired properties missed while offline; by default a bare twin GET.
   */
  useLivenessProbe(probe: (client: DeviceClient) => Promise<unknown>): void;
}
