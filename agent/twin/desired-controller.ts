import { EventEmitter } from 'node:events';
import type { Clock } from '../core/clock.js';
import { errorMessage } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { AgentConfig } from '../config/schema.js';
import type { LastGood } from '../config/last-good.js';
import type { JsonObject, Refusal } from '../config/overlay.js';
import type { DesiredDecision, DesiredState } from './desired-state.js';

/** Where the config in force came from. */
export type ConfigSource = 'file' | 'last-good' | 'twin';

export interface ConfigStatus {
  version: number;
  source: ConfigSource;
  appliedAt: number;
  lastRefusal?: { version: number; at: number } & Refusal;
}

/** How many refusals the reported properties keep (older ones are deleted from the twin). */
export const REPORTED_REFUSALS = 10;
const MAX_REASON_CHARS = 600;
/**
 * Problems listed in a refusal, each message cut at MAX_PROBLEM_CHARS. Only the newest refusal
 * keeps its list (older ones keep their first problem and `problemCount`): the operator fixes the
 * latest push, and ten full lists could pass IoT Hub's 32 KB for the reported section.
 */
export const REPORTED_PROBLEMS = 20;
const MAX_PROBLEM_CHARS = 200;

export interface DesiredControllerDeps {
  state: DesiredState;
  initial: { config: AgentConfig; source: ConfigSource };
  /** Applies a validated config live; throws if it cannot (the controller then rolls back). */
  apply: (next: AgentConfig, previous: AgentConfig) => Promise<void>;
  persist: (value: LastGood) => Promise<void>;
  /** Queues a reported-properties patch (throttled by the caller). */
  report: (patch: JsonObject) => void;
  /** The local copy skipped a version: ask for a full twin GET. */
  resync: () => void;
  clock: Clock;
  logger: Logger;
}

/**
 * Turns desired documents into running configuration, one at a time, whole or not at all: a
 * version is validated as a complete config, applied live, persisted as the last good one and
 * reported; or refused, reported with its path and reason, and the running config left as it
 * was. An apply that fails halfway is undone by applying the previous config again.
 */
export class DesiredController {
  private chain: Promise<void> = Promise.resolve();
  private running: AgentConfig;
  private status: ConfigStatus;
  private readonly refusedVersions: string[] = [];
  /** The refusal whose `problems` list is in the reported properties. */
  private listedProblems: string | undefined;
  /** Each applied or refused version, for logs, diagnostics and tests that wait on it. */
  readonly events = new EventEmitter<{ applied: [version: number]; refused: [version: number, reason: Refusal] }>();

  constructor(private readonly deps: DesiredControllerDeps) {
    this.running = deps.initial.config;
    this.status = { version: deps.state.versionInForce, source: deps.initial.source, appliedAt: deps.clock.now() };
  }

  get config(): AgentConfig {
    return this.running;
  }

  configStatus(): ConfigStatus {
    return { ...this.status };
  }

  /** The reported `config` section as it stands (sent in full after each connect). */
  reportedConfig(): JsonObject {
    return { config: { version: this.status.version, source: this.status.source, appliedAt: new Date(this.status.appliedAt).toISOString() } };
  }

  /** A full desired document from a twin GET. Resolves once handled. */
  offerFull(doc: unknown): Promise<void> {
    return this.enqueue(() => this.deps.state.offerFull(doc, this.running.twin.maxDesiredBytes));
  }

  /** A pushed desired patch. Resolves once handled. */
  offerPatch(patch: unknown): Promise<void> {
    return this.enqueue(() => this.deps.state.offerPatch(patch, this.running.twin.maxDesiredBytes));
  }

  /** Resolves when everything offered so far has been handled. */
  idle(): Promise<void> {
    return this.chain;
  }

  private enqueue(decide: () => DesiredDecision): Promise<void> {
    const run = this.chain.then(async () => {
      let decision: DesiredDecision;
      try {
        decision = decide();
      } catch (err) {
        // The state machine is total by design; this guards the agent if that promise breaks.
        decision = { kind: 'refuse', version: -1, reason: { path: '(root)', message: `internal error: ${errorMessage(err)}` } };
      }
      await this.handle(decision);
    });
    this.chain = run.catch((err: unknown) => this.deps.logger.error({ err: errorMessage(err) }, 'desired properties handling failed'));
    return this.chain;
  }

  private async handle(d: DesiredDecision): Promise<void> {
    const { logger } = this.deps;
    switch (d.kind) {
      case 'unchanged':
        return;
      case 'resync':
        logger.info({ version: d.version }, 'desired patch skipped a version; fetching the whole twin');
        this.deps.resync();
        return;
      case 'refuse':
        this.refuse(d.version, d.reason);
        return;
      case 'apply': {
        const previous = this.running;
        try {
          // An unchanged config (say an empty desired section) is accepted without touching anything.
          if (JSON.stringify(d.config) !== JSON.stringify(previous)) await this.deps.apply(d.config, previous);
        } catch (err) {
          logger.error({ version: d.version, err: errorMessage(err) }, 'desired config could not be applied; restoring the previous one');
          await this.deps.apply(previous, d.config).catch((e: unknown) => logger.error({ err: errorMessage(e) }, 'restoring the previous config failed'));
          this.refuse(d.version, { path: '(apply)', message: `could not be applied: ${errorMessage(err)}` });
          return;
        }
        this.running = d.config;
        this.deps.state.accept(d);
        const at = this.deps.clock.now();
        this.status = { version: d.version, source: 'twin', appliedAt: at, ...(this.status.lastRefusal ? { lastRefusal: this.status.lastRefusal } : {}) };
        await this.deps.persist({ version: d.version, desired: d.desired, savedAt: at }).catch((err: unknown) => logger.error({ err: errorMessage(err) }, 'could not save the last good config; it is running, but a reboot offline would not use it'));
        logger.info({ version: d.version }, 'desired config applied');
        this.deps.report({ ...this.reportedConfig() });
        this.events.emit('applied', d.version);
        return;
      }
    }
  }

  private refuse(version: number, reason: Refusal): void {
    const at = this.deps.clock.now();
    this.status = { ...this.status, lastRefusal: { version, at, ...reason } };
    this.deps.logger.warn({ version, path: reason.path, reason: reason.message }, 'desired config refused; the last good config keeps running');
    const key = `v${version}`;
    // Bounded: ten refusals with a long query's error each must stay far below the 32 KB reported limit.
    const patch: JsonObject = { [key]: { path: reason.path.slice(0, 200), message: reason.message.slice(0, MAX_REASON_CHARS), at: new Date(at).toISOString(), ...reportedProblems(reason) } };
    if (this.listedProblems !== undefined && this.listedProblems !== key && this.refusedVersions.includes(this.listedProblems)) patch[this.listedProblems] = { problems: null };
    this.listedProblems = key;
    if (!this.refusedVersions.includes(key)) this.refusedVersions.push(key);
    while (this.refusedVersions.length > REPORTED_REFUSALS) patch[this.refusedVersions.shift()!] = null;
    this.deps.report({ configRefused: patch, config: { ...(this.reportedConfig().config as JsonObject), lastRefusedVersion: version } });
    this.events.emit('refused', version, reason);
  }
}

/** Every problem of a refusal, bounded: the first {@link REPORTED_PROBLEMS}, and how many there were in all. */
function reportedProblems(reason: Refusal): { problems: Array<{ path: string; message: string }>; problemCount: number } {
  const all = reason.problems ?? [{ path: reason.path, message: reason.message }];
  const problems = all.slice(0, REPORTED_PROBLEMS).map((p) => ({ path: p.path.slice(0, 200), message: p.message.length > MAX_PROBLEM_CHARS ? p.message.slice(0, MAX_PROBLEM_CHARS - 1) + '…' : p.message }));
  return { problems, problemCount: all.length };
}
