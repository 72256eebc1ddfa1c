import type { AgentConfig } from '../config/schema.js';
import { applyMergePatch, checkShape, isJsonObject, overlayDesired, withoutMetadata, type JsonObject, type Refusal } from '../config/overlay.js';

/** What to do with one desired version. */
export type DesiredDecision =
  | { kind: 'apply'; version: number; config: AgentConfig; desired: JsonObject }
  | { kind: 'refuse'; version: number; reason: Refusal }
  /** Nothing to do: this version was decided already (an echo, or a GET after reconnect). */
  | { kind: 'unchanged'; version: number }
  /** A patch skipped a version: the local copy is incomplete; GET the whole twin. */
  | { kind: 'resync'; version: number };

/**
 * The desired-properties state machine, free of I/O so it can be fuzzed: it mirrors the twin's
 * desired document (patches merged as the hub merges them) and decides, per `$version`, whether
 * the agent applies it or refuses it.
 *
 * Each version is judged as a whole document (file config + desired overlay), never patch by
 * patch: a refused push followed by a fixing push applies both, as the operator meant. A `null`
 * deletes the key from the desired document, as the hub does, so the whole document laid over the
 * file gives that setting the file's value again (or the default, when the file has none): the
 * operator's one way back, and a deliberate one, since only an explicit null in a patch does it.
 */
export class DesiredState {
  private mirror: JsonObject = {};
  private mirrorVersion = -1;
  private lastSeen = -1;
  /** The newest version applied or refused (a resync request decides nothing). */
  private decided = -1;
  private good: { version: number; desired: JsonObject };

  constructor(
    private readonly file: AgentConfig,
    start?: { version: number; desired: JsonObject },
  ) {
    this.good = start ? { version: start.version, desired: start.desired } : { version: 0, desired: {} };
  }

  /** The `$version` in force (0: the file alone). */
  get versionInForce(): number {
    return this.good.version;
  }

  get desiredInForce(): JsonObject {
    return this.good.desired;
  }

  /** The whole desired section, from a twin GET (at start and after every reconnect). */
  offerFull(doc: unknown, maxBytes: number): DesiredDecision {
    const version = versionOf(doc);
    if (version === undefined || !isJsonObject(doc)) return { kind: 'refuse', version: -1, reason: { path: '$version', message: 'the desired document has no numeric $version' } };
    this.mirror = withoutMetadata(doc);
    this.mirrorVersion = version;
    this.lastSeen = Math.max(this.lastSeen, version);
    if (version === this.good.version || version === this.decided) return { kind: 'unchanged', version };
    return this.judge(this.mirror, version, maxBytes);
  }

  /** One pushed patch. Stale or repeated versions are refused (and reported) without any effect. */
  offerPatch(patch: unknown, maxBytes: number): DesiredDecision {
    const version = versionOf(patch);
    if (version === undefined || !isJsonObject(patch)) return { kind: 'refuse', version: -1, reason: { path: '$version', message: 'the desired patch has no numeric $version' } };
    if (version <= this.lastSeen) {
      return { kind: 'refuse', version, reason: { path: '$version', message: `stale or repeated: $version ${version} is not newer than ${this.lastSeen}, already seen` } };
    }
    this.lastSeen = version;
    if (this.mirrorVersion < 0 || version !== this.mirrorVersion + 1) return { kind: 'resync', version };
    const body = withoutMetadata(patch);
    this.mirror = applyMergePatch(this.mirror, body);
    this.mirrorVersion = version;
    // The patch's own size and depth; its nulls are judged by what they delete (see judge).
    const shape = checkShape(body, maxBytes, { patch: true });
    if (shape) {
      this.decided = version;
      return { kind: 'refuse', version, reason: shape };
    }
    return this.judge(this.mirror, version, maxBytes);
  }

  /** Records that `decision` is now running (after the live apply succeeded). */
  accept(decision: { version: number; desired: JsonObject }): void {
    this.good = { version: decision.version, desired: decision.desired };
  }

  private judge(desired: JsonObject, version: number, maxBytes: number): DesiredDecision {
    this.decided = Math.max(this.decided, version);
    const result = overlayDesired(this.file, desired, { maxBytes });
    if (!result.ok) return { kind: 'refuse', version, reason: result.reason };
    return { kind: 'apply', version, config: result.config, desired };
  }
}

function versionOf(doc: unknown): number | undefined {
  if (!isJsonObject(doc)) return undefined;
  const v = doc.$version;
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : undefined;
}
