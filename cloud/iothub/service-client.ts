import { EdgeError, type EdgeErrorCode } from '../../agent/core/errors.js';
import type { HubEvent, MessageLogReader } from './hub-event.js';
import type { DeviceInfo, RegisteredDevice } from './service-face.js';
import type { TwinDocument } from './twin-store.js';
import type { MethodResult } from './methods.js';
import type { C2DOptions, C2DResult } from './c2d.js';
import type { FaultStatus, RefuseOptions } from './faults.js';
import { hubEventFromWire, type WireHubEvent } from './http-service.js';

/**
 * Client for the emulator's HTTP service API (see http-service.ts), for code in another process.
 * Errors come back as EdgeError with the emulator's code (EDGE_HUB_DEVICE_OFFLINE, …); an
 * emulator that is not running gives EDGE_TRANSPORT_UNAVAILABLE naming the URL.
 *
 * It also implements {@link MessageLogReader}, so a reconciler can read a running emulator's
 * log over HTTP once `connect()` has learnt the partition count.
 */
export class HubServiceClient implements MessageLogReader {
  private partitions = 0;

  /** @param baseUrl e.g. `http://127.0.0.1:8884` */
  constructor(readonly baseUrl: string) {}

  get partitionCount(): number {
    return this.partitions;
  }

  /** Checks the emulator is there and learns the message log's partition count. */
  async connect(): Promise<{ hostName: string; port: number; partitionCount: number }> {
    const health = await this.call<{ hostName: string; port: number }>('GET', '/health');
    const messages = await this.call<{ partitionCount: number }>('GET', '/messages');
    this.partitions = messages.partitionCount;
    return { hostName: health.hostName, port: health.port, partitionCount: messages.partitionCount };
  }

  async caPem(): Promise<string> {
    const res = await this.fetch('GET', '/ca');
    return res.text();
  }

  registerDevice(deviceId: string): Promise<RegisteredDevice> {
    return this.call('POST', '/devices', { deviceId });
  }

  getDevice(deviceId: string): Promise<RegisteredDevice> {
    return this.call('GET', `/devices/${encodeURIComponent(deviceId)}`);
  }

  listDevices(): Promise<DeviceInfo[]> {
    return this.call('GET', '/devices');
  }

  async removeDevice(deviceId: string): Promise<boolean> {
    return (await this.call<{ removed: boolean }>('DELETE', `/devices/${encodeURIComponent(deviceId)}`)).removed;
  }

  getTwin(deviceId: string): Promise<TwinDocument> {
    return this.call('GET', `/devices/${encodeURIComponent(deviceId)}/twin`);
  }

  updateDesired(deviceId: string, patch: Record<string, unknown>): Promise<{ version: number; pushed: boolean }> {
    return this.call('PATCH', `/devices/${encodeURIComponent(deviceId)}/twin/desired`, patch);
  }

  invokeMethod(deviceId: string, methodName: string, payload?: unknown, options: { responseTimeoutMs?: number } = {}): Promise<MethodResult> {
    return this.call('POST', `/devices/${encodeURIComponent(deviceId)}/methods/${encodeURIComponent(methodName)}`, {
      payload,
      ...options,
    });
  }

  sendC2D(deviceId: string, body: Buffer | string, options: C2DOptions = {}): Promise<C2DResult> {
    const encoded = typeof body === 'string' ? { body, bodyEncoding: 'utf8' } : { body: body.toString('base64'), bodyEncoding: 'base64' };
    return this.call('POST', `/devices/${encodeURIComponent(deviceId)}/messages`, { ...encoded, ...options });
  }

  async read(partition: number, fromSequenceNumber: number, max: number): Promise<HubEvent[]> {
    const wire = await this.call<WireHubEvent[]>('GET', `/messages/${partition}?from=${fromSequenceNumber}&limit=${max}`);
    return wire.map(hubEventFromWire);
  }

  async endOf(partition: number): Promise<number> {
    const { ends } = await this.call<{ ends: number[] }>('GET', '/messages');
    const end = ends[partition];
    if (end === undefined) throw new TypeError(`partition must be 0..${ends.length - 1}, got ${partition}`);
    return end;
  }

  faultStatus(): Promise<FaultStatus> {
    return this.call('GET', '/faults');
  }

  clearFaults(): Promise<FaultStatus> {
    return this.call('DELETE', '/faults');
  }

  async dropConnection(deviceId: string): Promise<boolean> {
    return (await this.call<{ dropped: boolean }>('POST', `/faults/drop/${encodeURIComponent(deviceId)}`)).dropped;
  }

  async goSilent(deviceId: string): Promise<boolean> {
    return (await this.call<{ silenced: boolean }>('POST', `/faults/silence/${encodeURIComponent(deviceId)}`)).silenced;
  }

  refuseConnections(options: RefuseOptions = {}): Promise<FaultStatus> {
    return this.call('POST', '/faults/refuse', options);
  }

  acceptConnections(): Promise<FaultStatus> {
    return this.call('DELETE', '/faults/refuse');
  }

  holdAcks(deviceId: string): Promise<FaultStatus> {
    return this.call('POST', `/faults/hold-acks/${encodeURIComponent(deviceId)}`);
  }

  async releaseAcks(deviceId: string, options: { deliver?: boolean } = {}): Promise<number> {
    return (await this.call<{ released: number }>('POST', `/faults/release-acks/${encodeURIComponent(deviceId)}`, options)).released;
  }

  private async fetch(method: string, path: string, body?: unknown): Promise<Response> {
    const url = new URL(path, this.baseUrl);
    try {
      const init: RequestInit = { method };
      if (body !== undefined) {
        init.body = JSON.stringify(body);
        init.headers = { 'content-type': 'application/json' };
      }
      return await fetch(url, init);
    } catch (cause) {
      throw new EdgeError('EDGE_TRANSPORT_UNAVAILABLE', `IoT Hub emulator service at ${this.baseUrl} is not reachable`, { cause });
    }
  }

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await this.fetch(method, path, body);
    const doc = (await res.json().catch(() => undefined)) as unknown;
    if (!res.ok) {
      const e = (doc as { error?: { code?: string; message?: string } } | undefined)?.error;
      const code = e?.code?.startsWith('EDGE_') ? (e.code as EdgeErrorCode) : 'EDGE_USAGE';
      throw new EdgeError(code, e?.message ?? `${method} ${path} failed with HTTP ${res.status}`);
    }
    return doc as T;
  }
}
