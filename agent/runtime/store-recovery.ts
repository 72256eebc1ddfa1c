import type { Clock } from '../core/clock.js';
import { errorMessage } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { AgentStore } from '../store/store.js';
import type { StoreFault } from '../store/store-fault.js';
import { Signal, waitAny } from '../core/signal.js';
import { isStoreFaultError } from '../store/store-fault.js';

export interface RecoverySteps {
  /** Stops what reads or writes the store (pipeline, housekeeping); the forwarder holds by itself. */
  pause(): Promise<void>;
  /** Moves a damaged store aside and salvages it into a fresh one. */
  replace(): Promise<void>;
  /** Reads the parts' state back from the store (as a start does) and starts them again. */
  resume(): Promise<void>;
}

/** How often a full disk is tried again: soon at first, then every few seconds. */
const RETRY_FIRST_MS = 500;
const RETRY_MAX_MS = 5000;

/**
 * Heals the store without a restart. A full disk: wait, then reopen LevelDB (which clears its
 * sticky background error and starts a fresh log) until a synced write succeeds. Damage: move the
 * store aside, start a fresh one and salvage. Either way the parts read their state back from the
 * store, as a start would. One log line per change of state, never one per attempt.
 */
export class StoreRecovery {
  private running = false;
  private loopDone: Promise<void> = Promise.resolve();
  private readonly stopped = new Signal();
  /** The fault being healed, for alarms; undefined when the store is well. */
  current: StoreFault | undefined;
  /** Faults healed since start, by kind. */
  readonly healedCount = { 'disk-full': 0, damaged: 0 };

  constructor(
    private readonly store: AgentStore,
    private readonly steps: RecoverySteps,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loopDone = this.loop();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.stopped.notify();
    await this.loopDone;
  }

  private async loop(): Promise<void> {
    while (this.running) {
      if (!this.store.fault) {
        await waitAny([this.store.faulted, this.stopped], { clock: this.clock, ms: 1000 });
        continue;
      }
      try {
        await this.heal(this.store.fault);
      } catch (err) {
        // Never the end of healing: a step that failed for another reason is tried again.
        this.logger.error({ err: errorMessage(err) }, 'healing the store failed; trying again');
        await waitAny([this.stopped], { clock: this.clock, ms: RETRY_MAX_MS });
      }
    }
  }

  private async heal(fault: StoreFault): Promise<void> {
    this.current = fault;
    const { logger } = this;
    if (fault.kind === 'disk-full') logger.error({ err: fault.message }, 'the disk is full: readings are refused and sending is held until space returns');
    else logger.error({ err: fault.message }, 'the buffer is damaged: moving it aside and starting a fresh one');
    await this.steps.pause();
    let delay = RETRY_FIRST_MS;
    while (this.running && this.store.fault) {
      try {
        if (this.store.fault.kind === 'damaged') await this.steps.replace();
        else await this.store.reopen();
      } catch (err) {
        // Still full (or damaged underneath): try again later, quietly.
        logger.debug({ err: errorMessage(err) }, 'the store is not usable yet');
        await waitAny([this.stopped], { clock: this.clock, ms: delay });
        delay = Math.min(RETRY_MAX_MS, delay * 2);
        continue;
      }
    }
    for (let logged = false; this.running; ) {
      try {
        await this.steps.resume();
        break;
      } catch (err) {
        // Reading the state back met a new fault (the disk filled again, damage in the fresh
        // store): the loop heals that one next; the parts stay paused until then.
        if (isStoreFaultError(this.store.notice(err)) && this.store.fault) return;
        if (!logged) logger.error({ err: errorMessage(err) }, 'the store is back but the parts could not read their state from it; trying again');
        logged = true;
        await waitAny([this.stopped], { clock: this.clock, ms: RETRY_MAX_MS });
      }
    }
    if (!this.running) return;
    this.healedCount[fault.kind]++;
    this.current = undefined;
    logger.warn({ kind: fault.kind, ms: this.clock.now() - fault.since }, fault.kind === 'disk-full' ? 'disk space is back: the store was reopened, readings are accepted and sending resumed' : 'a fresh buffer is in use; collection goes on');
  }
}
