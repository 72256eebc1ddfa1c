import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { EdgeError } from '../../agent/core/errors.js';
import { CoalescingWriter, readJsonFile } from './atomic-file.js';

/**
 * The hub's identity registry: which devices exist and their symmetric keys. One JSON file in
 * the data dir, replaced atomically on every change, so a crash never loses a registered device
 * whose connection string was already handed out.
 */
export interface DeviceIdentity {
  deviceId: string;
  /** Base64, 32 random bytes, as IoT Hub generates them. */
  primaryKey: string;
  secondaryKey: string;
  /** Epoch ms. */
  createdAt: number;
  /** X.509 self-signed authentication: SHA-256 thumbprint of the client certificate (hex, upper case, no colons). */
  x509Thumbprint?: string;
}

interface RegistryFile {
  version: 1;
  devices: DeviceIdentity[];
}

/** IoT Hub's rule: up to 128 chars of ASCII letters, digits and `-.%_*?!(),:=@$'`. */
const DEVICE_ID = /^[A-Za-z0-9\-.%_*?!(),:=@$']{1,128}$/;

function isValidDeviceId(id: string): boolean {
  return DEVICE_ID.test(id);
}

function registryPath(dataDir: string): string {
  return join(dataDir, 'registry.json');
}

export class DeviceRegistry {
  private readonly devices = new Map<string, DeviceIdentity>();
  private readonly writer: CoalescingWriter;

  private constructor(path: string) {
    this.writer = new CoalescingWriter(path, () => this.serialise());
  }

  /** Waits for file writes in flight (the emulator stops only after them). */
  settled(): Promise<void> {
    return this.writer.settled();
  }

  static async open(dataDir: string): Promise<DeviceRegistry> {
    const path = registryPath(dataDir);
    const registry = new DeviceRegistry(path);
    const doc = await readJsonFile(path);
    if (doc !== undefined) {
      const devices = (doc as Partial<RegistryFile>).devices;
      if (!Array.isArray(devices)) throw new EdgeError('EDGE_STORE_CORRUPT', `device registry ${path} has no "devices" list`);
      for (const d of devices) registry.devices.set(d.deviceId, d);
    }
    return registry;
  }

  get(deviceId: string): DeviceIdentity | undefined {
    return this.devices.get(deviceId);
  }

  list(): DeviceIdentity[] {
    return [...this.devices.values()].sort((a, b) => a.deviceId.localeCompare(b.deviceId));
  }

  /**
   * Registers a device with fresh keys, or returns the existing identity unchanged (registering
   * twice is harmless: scripts may re-run). Resolves once the registry file is durable.
   */
  async register(deviceId: string, now: number, primaryKey?: string): Promise<DeviceIdentity> {
    if (!isValidDeviceId(deviceId)) {
      throw new EdgeError('EDGE_USAGE', `invalid device id "${deviceId}": use up to 128 letters, digits or -.%_*?!(),:=@$'`);
    }
    const existing = this.devices.get(deviceId);
    // A given key (DPS provisioning the enrollment's key) replaces the one on record.
    if (existing && (primaryKey === undefined || existing.primaryKey === primaryKey)) return existing;
    if (existing) {
      existing.primaryKey = primaryKey!;
      await this.writer.save();
      return existing;
    }
    const identity: DeviceIdentity = {
      deviceId,
      primaryKey: primaryKey ?? randomBytes(32).toString('base64'),
      secondaryKey: randomBytes(32).toString('base64'),
      createdAt: now,
    };
    this.devices.set(deviceId, identity);
    await this.writer.save();
    return identity;
  }

  /**
   * Registers a device (or takes the existing one) for X.509 self-signed authentication: its TLS
   * client certificate must have this SHA-256 thumbprint (colons and case do not matter).
   */
  async registerX509(deviceId: string, thumbprint: string, now: number): Promise<DeviceIdentity> {
    const identity = await this.register(deviceId, now);
    identity.x509Thumbprint = normalizeThumbprint(thumbprint);
    await this.writer.save();
    return identity;
  }

  /** Removes a device; resolves true if it existed. */
  async remove(deviceId: string): Promise<boolean> {
    if (!this.devices.delete(deviceId)) return false;
    await this.writer.save();
    return true;
  }

  private serialise(): string {
    const doc: RegistryFile = { version: 1, devices: this.list() };
    return JSON.stringify(doc, null, 2) + '\n';
  }
}

export function normalizeThumbprint(t: string): string {
  return t.replace(/:/g, '').toUpperCase();
}

/** `HostName=<host>;DeviceId=<id>;SharedAccessKey=<key>`: what the device SDK takes. */
export function deviceConnectionString(host: string, deviceId: string, key: string): string {
  return `HostName=${host};DeviceId=${deviceId};SharedAccessKey=${key}`;
}
