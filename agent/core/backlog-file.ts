import { gunzipSync } from 'node:zlib';
import { WIRE_VERSION, type RecordKind } from './wire.js';

/**
 * Backlog files (DESIGN §6): a contiguous run of one kind's unsent records, uploaded through IoT
 * Hub file upload. The blob is gzip of JSON lines, each line one wire message
 * (`{v, device, boot, records}`) of at most `FILE_LINE_RECORDS` records (a reconciler batch of 500 lines is ≤ 125 k records), so the cloud decodes a
 * file line by line with the same code as a device-to-cloud message.
 */
export const FILE_LINE_RECORDS = 250;

const PREFIX = 'backlog';
/** Seqs are zero-padded so a listing sorted by name is in seq order within a kind. */
const SEQ_DIGITS = 15;
const KINDS: readonly RecordKind[] = ['result', 'reading', 'event', 'health'];
const NAME = /^([^/]+)\/backlog\/(result|reading|event|health)\/(\d{15})-(\d{15})\.jsonl\.gz$/;

export interface BacklogFileName {
  deviceId: string;
  kind: RecordKind;
  firstSeq: number;
  lastSeq: number;
}

/** The name the device asks for; IoT Hub stores it as `<deviceId>/<this>`. */
export function backlogFileName(kind: RecordKind, firstSeq: number, lastSeq: number): string {
  const pad = (n: number) => String(n).padStart(SEQ_DIGITS, '0');
  return `${PREFIX}/${kind}/${pad(firstSeq)}-${pad(lastSeq)}.jsonl.gz`;
}

/** Where the cloud lists one device's backlog files (a blob name prefix). */
export function backlogPrefix(deviceId: string): string {
  return `${deviceId}/${PREFIX}/`;
}

/** A stored blob name (`<deviceId>/backlog/<kind>/<first>-<last>.jsonl.gz`), or undefined for any other blob. */
export function parseBacklogBlobName(blobName: string): BacklogFileName | undefined {
  const m = NAME.exec(blobName);
  if (!m) return undefined;
  const kind = m[2] as RecordKind;
  if (!KINDS.includes(kind)) return undefined;
  return { deviceId: m[1]!, kind, firstSeq: Number(m[3]), lastSeq: Number(m[4]) };
}

/** The body's lines, from the records' stored JSON text (not re-serialised). */
export function backlogFileLines(device: string, boot: string, recordJson: readonly string[]): string[] {
  const head = `{"v":${WIRE_VERSION},"device":${JSON.stringify(device)},"boot":${JSON.stringify(boot)},"records":[`;
  const lines: string[] = [];
  for (let i = 0; i < recordJson.length; i += FILE_LINE_RECORDS) {
    lines.push(`${head}${recordJson.slice(i, i + FILE_LINE_RECORDS).join(',')}]}`);
  }
  return lines;
}

/** A stored file's lines (each a wire message's JSON text); empty lines are skipped. */
export function readBacklogFile(gz: Buffer): string[] {
  return gunzipSync(gz)
    .toString('utf8')
    .split('\n')
    .filter((l) => l.length > 0);
}
