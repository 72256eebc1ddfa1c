/** One packed message on its way to the hub (DESIGN §6). */
export interface OutboundMessage {
  messageId: string;
  body: Buffer;
  contentType: 'application/json';
  contentEncoding: 'utf-8' | 'gzip';
  /** Application properties, so routing and the reconciler can filter without the body. */
  properties: Record<string, string>;
}

export type TransportState = 'disconnected' | 'connecting' | 'connected' | 'unauthorized';

export interface TransportStatus {
  state: TransportState;
  lastError?: { code: string; message: string; at: number };
  connectedAt?: number;
  /** When the link last went from connected to anything else; absent while connected. */
  disconnectedAt?: number;
  /** Connection events since start (connects, failed attempts, losses, token renewals). */
  totals?: { connects: number; failures: number; losses: number; renewals: number };
}

/**
 * The agent's only door to the cloud. `send` resolves when the hub has acknowledged the
 * message (MQTT PUBACK at QoS 1) and rejects with an `EdgeError` otherwise; it never resolves
 * for a message the hub may not have stored.
 */
export interface Transport {
  connect(): Promise<void>;
  send(message: OutboundMessage): Promise<void>;
  close(): Promise<void>;
  status(): TransportStatus;
}
