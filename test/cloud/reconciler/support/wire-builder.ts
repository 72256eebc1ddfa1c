import { gzipSync } from 'node:zlib';
import {
  WIRE_VERSION,
  wireProperties,
  type EventRecord,
  type ReadingRecord,
  type ResultRecord,
  type WireMessage,
  type WireRecord,
} from '../../../../agent/core/wire.js';

/**
 * Test builder for what an agent sends (agent/core/wire.ts types): one `AgentScript` per device
 * hands out seqs like the agent's outbox does (per device, never going back, across reboots).
 */
export interface SentRecord {
  boot: string;
  record: WireRecord;
}

export class AgentScript {
  readonly sent: SentRecord[] = [];
  private seq: number;

  constructor(
    readonly device: string,
    public boot: string,
    firstSeq = 1,
  ) {
    this.seq = firstSeq;
  }

  /** A new run of the agent: new boot id, seq carries on. */
  reboot(boot: string): void {
    this.boot = boot;
  }

  result(fields: Omit<ResultRecord, 'seq' | 'kind' | 't'> & { t?: number }): ResultRecord {
    const r: ResultRecord = { seq: this.seq++, kind: 'result', t: fields.t ?? fields.we, ...fields };
    this.sent.push({ boot: this.boot, record: r });
    return r;
  }

  reading(fields: Omit<ReadingRecord, 'seq' | 'kind'>): ReadingRecord {
    const r: ReadingRecord = { seq: this.seq++, kind: 'reading', ...fields };
    this.sent.push({ boot: this.boot, record: r });
    return r;
  }

  event(fields: Omit<EventRecord, 'seq'>): EventRecord {
    const r: EventRecord = { seq: this.seq++, ...fields };
    this.sent.push({ boot: this.boot, record: r });
    return r;
  }
}

export function packMessage(device: string, boot: string, records: WireRecord[]): WireMessage {
  return { v: WIRE_VERSION, device, boot, records };
}

/** What a device publishes, as the hub would log it (minus what the log assigns). */
export interface Telemetry {
  deviceId: string;
  systemProperties: Record<string, string>;
  properties: Record<string, string>;
  body: Buffer;
}

export function toTelemetry(message: WireMessage, options: { gzip?: boolean; deviceId?: string } = {}): Telemetry {
  const json = Buffer.from(JSON.stringify(message), 'utf8');
  const systemProperties: Record<string, string> = { 'content-type': 'application/json' };
  if (options.gzip) systemProperties['content-encoding'] = 'gzip';
  return {
    deviceId: options.deviceId ?? message.device,
    systemProperties,
    properties: { ...wireProperties(message) },
    body: options.gzip ? gzipSync(json) : json,
  };
}
