import { execFile } from 'node:child_process';
import { errorMessage } from '../core/errors.js';
import type { Logger } from '../core/logger.js';

/**
 * sd_notify for Node. Node has no UNIX *datagram* sockets, which is what $NOTIFY_SOCKET is, so
 * the message goes through systemd's own `systemd-notify` tool (the unit sets NotifyAccess=all:
 * the sender is a child in the service's cgroup, not the main PID). systemd-notify waits for the
 * manager to have processed the message (a BARRIER since systemd 246), so the child exiting at
 * once does not lose it. The native npm options (unix-dgram, sd-notify) need a compiler or
 * prebuilds per architecture beside the single executable; this needs nothing we ship, and
 * costs one short process per watchdog period.
 *
 * Without $NOTIFY_SOCKET (not under systemd, or Type=simple) every call is a no-op.
 */
export class SystemdNotifier {
  readonly enabled: boolean;
  /** Watchdog period from $WATCHDOG_USEC, when the unit sets WatchdogSec and it is meant for us. */
  readonly watchdogMs: number | undefined;

  constructor(
    private readonly logger: Logger,
    env: NodeJS.ProcessEnv = process.env,
    private readonly command = env.EDGE_AGENT_SYSTEMD_NOTIFY ?? 'systemd-notify',
  ) {
    this.enabled = Boolean(env.NOTIFY_SOCKET);
    const usec = Number(env.WATCHDOG_USEC);
    const forUs = env.WATCHDOG_PID === undefined || Number(env.WATCHDOG_PID) === process.pid;
    this.watchdogMs = this.enabled && forUs && Number.isFinite(usec) && usec > 0 ? usec / 1000 : undefined;
  }

  /** Sends `KEY=VALUE` assignments (READY=1, STATUS=…, WATCHDOG=1, STOPPING=1). Never throws. */
  notify(fields: Record<string, string | number>): Promise<boolean> {
    if (!this.enabled) return Promise.resolve(false);
    const args = Object.entries(fields).map(([k, v]) => `${k}=${String(v).replace(/\n/g, ' ')}`);
    return new Promise((resolve) => {
      execFile(this.command, args, { timeout: 5000 }, (err) => {
        if (err) this.logger.warn({ err: errorMessage(err), fields }, 'systemd notification failed');
        resolve(!err);
      });
    });
  }

  ready(status: string): Promise<boolean> {
    return this.notify({ READY: 1, STATUS: status, MAINPID: process.pid });
  }

  stopping(status: string): Promise<boolean> {
    return this.notify({ STOPPING: 1, STATUS: status });
  }

  /**
   * Feeds the watchdog at half its period while `healthy()` says so. An unhealthy pipeline is
   * not fed: systemd then restarts the service after WatchdogSec, which is the point.
   */
  startWatchdog(healthy: () => { healthy: boolean; reason?: string; restartHelps?: boolean }): { stop: () => void } {
    if (this.watchdogMs === undefined) return { stop: () => undefined };
    let wasHealthy = true;
    const timer = setInterval(() => {
      const h = healthy();
      if (!h.healthy && h.restartHelps === false) {
        // Unhealthy in a way the agent heals itself (a full disk): fed, with the reason in STATUS.
        void this.notify({ WATCHDOG: 1, STATUS: `degraded: ${h.reason ?? 'unknown'}` });
        wasHealthy = true;
        return;
      }
      if (h.healthy) {
        if (!wasHealthy) this.logger.warn('pipeline healthy again: feeding the watchdog');
        void this.notify({ WATCHDOG: 1, ...(wasHealthy ? {} : { STATUS: 'running' }) });
      } else if (wasHealthy) {
        this.logger.error({ reason: h.reason }, 'pipeline unhealthy: no longer feeding the watchdog (systemd restarts the service unless it recovers)');
        void this.notify({ STATUS: `unhealthy: ${h.reason ?? 'unknown'}` });
      }
      wasHealthy = h.healthy;
    }, Math.max(100, Math.floor(this.watchdogMs / 2)));
    timer.unref();
    return { stop: () => clearInterval(timer) };
  }
}
