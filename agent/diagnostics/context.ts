import type { Clock } from '../core/clock.js';
import type { AgentConfig } from '../config/schema.js';
import type { ConfigStatus } from '../twin/desired-controller.js';
import type { EdgeAgent } from '../runtime/edge-agent.js';
import type { LogControl } from './log-control.js';
import type { EventLoopFigures } from './event-loop.js';

/**
 * The twin's side as diagnostics see it. The desired-properties controller fits this shape;
 * when it is absent (no twin wiring), `twin` and `config` report file and defaults only.
 */
export interface TwinView {
  /** The config in force (file overlaid with the twin's desired properties). */
  readonly config: AgentConfig;
  configStatus(): ConfigStatus;
}

/** Everything the handlers read from the running agent. */
export interface DiagnosticsContext {
  agent: Pick<EdgeAgent, 'stats' | 'latestReadings' | 'inject' | 'drain' | 'onAccepted'> & Partial<Pick<EdgeAgent, 'lastWrites'>>;
  version: string;
  clock: Clock;
  /** The config as validated from the file (before any twin overlay). */
  fileConfig: AgentConfig;
  /** The file's own JSON document, to tell values it sets from defaults. */
  fileDocument: unknown;
  filePath: string;
  twin?: TwinView;
  logs: LogControl;
  /** Whether the watchdog is being fed, and why not (run.ts). */
  health?: () => { healthy: boolean; reason?: string };
  /** How late the event loop runs (run.ts; absent where no agent process is measured). */
  eventLoop?: () => EventLoopFigures;
}
