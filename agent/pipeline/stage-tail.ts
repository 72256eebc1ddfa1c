import { EdgeError } from '../core/errors.js';
import type { Journal } from '../journal/journal.js';
import { crc32 } from 'node:zlib';
import { decodeChecked, decodeCheckedText, encodeChecked } from '../store/checksum.js';
import type { AgentStore } from '../store/store.js';
import { META } from '../store/meta-keys.js';
import type { RecordStage } from './stage.js';

export const CURSOR_KEY = META.journalCursor;
export const STATE_KEY = META.stageState;
export const TAIL_KEY = META.stageTail;

/**
 * The steps a stateful stage took since its last checkpoint: enough to take them again. `from`
 * is the journal position the checkpoint reflects; each step is `[last, now]`, the last
 * journal position it consumed and the time it was given. The journal keeps every entry after
 * `from` until the next checkpoint, so restoring the checkpoint and replaying these steps
 * rebuilds the state exactly as the run that committed them had it.
 */
export interface StageTail {
  from: number;
  steps: Array<[last: number, now: number]>;
}

/** What the store holds for the pipeline: the cursor, the stage's checkpoint and the steps since. */
export interface Committed {
  cursor: number;
  state: string | undefined;
  tail: StageTail;
  /** Whether the store holds a tail record (absent before tails existed, and after a stateless stage). */
  tailStored: boolean;
}

export async function loadCommitted(store: AgentStore): Promise<Committed> {
  const rawCursor = await store.meta.get(CURSOR_KEY);
  const cursor = rawCursor ? decodeChecked<number>(rawCursor, 'journal cursor') : 0;
  const rawState = await store.meta.get(STATE_KEY);
  const state = rawState ? decodeState(rawState) : undefined;
  const rawTail = await store.meta.get(TAIL_KEY);
  // A store written before tails existed checkpointed every step: its state is at the cursor.
  const tail = rawTail ? decodeChecked<StageTail>(rawTail, 'stage tail') : { from: cursor, steps: [] };
  const end = tail.steps.at(-1)?.[0] ?? tail.from;
  if (end !== cursor) throw new EdgeError('EDGE_STORE_CORRUPT', `the stage tail ends at journal position ${end}, the cursor is at ${cursor}`);
  return { cursor, state, tail, tailStored: rawTail !== undefined };
}

/**
 * The stage's checkpoint text as a checked record, in the layout `decodeCheckedText` reads
 * ([crc32][UTF-8]), written from the stage's parts without joining them into one string first.
 * (encodeChecked would JSON-encode the text once more: a second, escaped copy on the heap.)
 */
export function encodeState(parts: Buffer[]): Buffer {
  let crc = 0;
  for (const p of parts) crc = crc32(p, crc);
  const head = Buffer.allocUnsafe(4);
  head.writeUInt32BE(crc, 0);
  return Buffer.concat([head, ...parts]);
}

/** Stores before this layout held the text JSON-encoded as a string. */
function decodeState(raw: Buffer): string {
  const text = decodeCheckedText(raw, 'analytics state');
  return text.startsWith('"') ? (JSON.parse(text) as string) : text;
}

export function encodeTail(tail: StageTail): Buffer {
  return encodeChecked(tail);
}

/**
 * Restores the checkpoint and feeds the stage the tail's steps again, entries and times as
 * they were. What those steps produced is in the outbox already, so their output is dropped.
 */
export async function replayTail(stage: RecordStage, journal: Journal, committed: Committed): Promise<void> {
  stage.restore(committed.state);
  let prev = committed.tail.from;
  for (const [last, now] of committed.tail.steps) {
    const entries = last > prev ? await journal.read(prev, last - prev, last) : [];
    stage.process(entries, now);
    prev = last;
  }
}
