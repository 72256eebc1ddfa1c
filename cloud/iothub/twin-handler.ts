import type { Logger } from '../../agent/core/logger.js';
import type { DeviceSessions } from './device-sessions.js';
import { TwinPatchError, type TwinStore, type TwinDocument } from './twin-store.js';
import { TWIN_DESIRED_FILTER, TWIN_RESPONSE_FILTER, desiredPatchTopic, twinResponseTopic } from './topics.js';

/**
 * The twin over MQTT: answers a device's GET and reported PATCH on `$iothub/twin/res/…`, and
 * pushes the service's desired patches. Responses go to the requesting device's own connection
 * (see DeviceSessions), never through topic routing.
 */
export class TwinHandler {
  constructor(
    private readonly store: TwinStore,
    private readonly sessions: DeviceSessions,
    private readonly log: Logger,
  ) {}

  /** `$iothub/twin/GET/?$rid=` → `res/200` with `{desired, reported}`. */
  async onGet(deviceId: string, rid: string): Promise<void> {
    await this.respond(deviceId, 200, rid, Buffer.from(JSON.stringify(this.store.get(deviceId))));
  }

  /** `$iothub/twin/PATCH/properties/reported/?$rid=` → `res/204/?$rid=&$version=` once stored; 400 if refused. */
  async onPatchReported(deviceId: string, rid: string, body: Buffer): Promise<void> {
    let patch: unknown;
    try {
      patch = JSON.parse(body.toString('utf8'));
    } catch {
      await this.respondError(deviceId, rid, 'reported properties patch is not valid JSON');
      return;
    }
    let version: number;
    try {
      version = await this.store.patchReported(deviceId, patch);
    } catch (err) {
      if (err instanceof TwinPatchError) {
        await this.respondError(deviceId, rid, err.message);
        return;
      }
      throw err;
    }
    await this.respond(deviceId, 204, rid, Buffer.alloc(0), version);
  }

  /**
   * Service side: applies a desired patch and, if the device is online and subscribed, pushes it
   * on `$iothub/twin/PATCH/properties/desired/?$version=n`. A device that is offline is not sent
   * the change later (IoT Hub does not either): it must GET the twin when it reconnects.
   */
  async updateDesired(deviceId: string, patch: unknown): Promise<{ version: number; pushed: boolean }> {
    const { version, patch: sent } = await this.store.patchDesired(deviceId, patch);
    let pushed = false;
    if (this.sessions.isSubscribed(deviceId, TWIN_DESIRED_FILTER)) {
      pushed = await this.sessions.send(deviceId, { topic: desiredPatchTopic(version), payload: Buffer.from(JSON.stringify(sent)), qos: 0 });
    }
    return { version, pushed };
  }

  settled(): Promise<void> {
    return this.store.settled();
  }

  remove(deviceId: string): Promise<void> {
    return this.store.remove(deviceId);
  }

  getTwin(deviceId: string): TwinDocument {
    return this.store.get(deviceId);
  }

  private async respond(deviceId: string, status: number, rid: string, body: Buffer, version?: number): Promise<void> {
    // IoT Hub answers only devices subscribed to the response topic; the SDK always subscribes first.
    if (!this.sessions.isSubscribed(deviceId, TWIN_RESPONSE_FILTER)) {
      this.log.debug({ deviceId, rid }, 'twin response dropped: device not subscribed to $iothub/twin/res/#');
      return;
    }
    await this.sessions.send(deviceId, { topic: twinResponseTopic(status, rid, version), payload: body, qos: 0 });
  }

  private respondError(deviceId: string, rid: string, message: string): Promise<void> {
    // The SDK turns a body with `errorCode` into an Error carrying `message`.
    return this.respond(deviceId, 400, rid, Buffer.from(JSON.stringify({ errorCode: 400004, message })));
  }
}
