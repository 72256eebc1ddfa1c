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
 * A step as the tail records it: the last journal position it consumed and the time it was
 * given; `done` is present while only the first `done` of the step's records are in the outbox
 * (a large output is committed in several batches, and only the last step can be cut so).
 */
export type TailStep = [last: number, now: number] | [last: number, now: number, done: number];

/**
 * The steps a stateful stage took since its last checkpoint: enough to take them again. `from`
 * is the journal position the checkpoint reflects. The journal keeps every entry after `from`
 * until the next checkpoint, so restoring the checkpoint and replaying these steps rebuilds the
 * state exactly as the run that committed them had it.
 */
export interface StageTail {
  from: number;
  steps: TailStep[];
}

/** A step a crash cut between two of its batches: taken again from `from` to `last`, its first `done` records dropped. */
export interface UnfinishedStep {
  from: number;
  last: number;
  now: number;
  done: number;
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
 * A last step that was cut between two of its batches (`done`) is not taken here but returned:
 * the pipeline takes it again, committing only its records after `done` (the stage's output
 * depends only on its state and input, so they are the same records).
 */
export async function replayTail(stage: RecordStage, journal: Journal, committed: Committed): Promise<UnfinishedStep | undefined> {
  stage.restore(committed.state);
  let prev = committed.tail.from;
  const steps = committed.tail.steps;
  for (const [i, [last, now, done]] of steps.entries()) {
    if (done !== undefined) {
      if (i !== steps.length - 1) throw new EdgeError('EDGE_STORE_CORRUPT', `the stage tail has a cut step (to journal position ${last}) that is not its last`);
      return { from: prev, last, now, done };
    }
    stage.process(await readSteps(journal, prev, last), now);
    prev = last;
  }
  return undefined;
}

/** The journal entries in (prev, last]. */
export async function readSteps(journal: Journal, prev: number, last: number) {
  return last > prev ? await journal.read(prev, last - prev, last) : [];
}
