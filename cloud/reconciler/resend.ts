import { z } from 'zod';
import type { DeviceState } from './store.js';
import type { Gap } from './gaps.js';

/**
 * Asking devices for what is missing. The reconciler calls the direct method `resend` with
 * `{ fromSeq, toSeq }` (inclusive). The device answers 200 with
 * `{ resent?: number, evicted?: [{ fromSeq, toSeq }, …] }`: the records it still holds come
 * back as ordinary telemetry (and merge like any other message); the ranges it no longer
 * holds are closed as lost. Any other status, or a call that cannot be delivered, leaves the
 * gap open for the next attempt.
 */
export const RESEND_METHOD = 'resend';

export interface MethodResponse {
  status: number;
  payload: unknown;
}

/**
 * A hub's service side, as far as the reconciler needs it. Implemented over the IoT Hub
 * emulator's service face here, and over the `azure-iothub` service client in Azure.
 * Rejects (EDGE_HUB_DEVICE_OFFLINE, EDGE_HUB_DEVICE_UNKNOWN, EDGE_HUB_METHOD_TIMEOUT, …) when
 * the call could not be delivered or answered.
 */
export interface MethodInvoker {
  invoke(deviceId: string, method: string, payload: unknown, timeoutMs: number): Promise<MethodResponse>;
}

export interface ResendRequest {
  fromSeq: number;
  toSeq: number;
}

export interface ResendPolicy {
  /** How long a gap may stay open before we ask: reordering across lanes usually fills it first. */
  graceMs: number;
  /** How long to wait for the records after a request before asking again. */
  retryMs: number;
  /** Direct-method response timeout. */
  timeoutMs: number;
  /** Requests per round, so one patchy device cannot stall the pipeline. */
  maxPerRound: number;
}

export const DEFAULT_RESEND_POLICY: ResendPolicy = {
  graceMs: 60_000,
  retryMs: 5 * 60_000,
  timeoutMs: 30_000,
  maxPerRound: 32,
};

const range = z.object({ fromSeq: z.number().int(), toSeq: z.number().int() });
const answerSchema = z.object({ resent: z.number().optional(), evicted: z.array(range).optional() });

export interface ResendAnswer {
  evicted: ResendRequest[];
}

/** Validates a device's answer; null when it is not one we understand. */
export function parseResendAnswer(payload: unknown): ResendAnswer | null {
  const parsed = answerSchema.safeParse(payload ?? {});
  if (!parsed.success) return null;
  return { evicted: (parsed.data.evicted ?? []).filter((r) => r.toSeq >= r.fromSeq) };
}

/** Open gaps whose grace period (or retry wait) is over, oldest first, at most `maxPerRound`. */
export function dueResends(devices: Iterable<DeviceState>, now: number, policy: ResendPolicy): Array<{ device: string; gap: Gap }> {
  const due: Array<{ device: string; gap: Gap }> = [];
  for (const d of devices) {
    for (const g of d.gaps) {
      if (g.state !== 'open') continue;
      const waitedFrom = g.requestedAt ?? g.openedAt;
      const wait = g.requestedAt === null ? policy.graceMs : policy.retryMs;
      if (now - waitedFrom >= wait) due.push({ device: d.device, gap: g });
    }
  }
  due.sort((a, b) => (a.gap.requestedAt ?? a.gap.openedAt) - (b.gap.requestedAt ?? b.gap.openedAt));
  return due.slice(0, policy.maxPerRound);
}
