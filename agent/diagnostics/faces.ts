import type { AgentConfig } from '../config/schema.js';
import type { Logger } from '../core/logger.js';
import { defaultSocketPath } from './client.js';
import type { DiagnosticsContext } from './context.js';

/** The socket server and the Prometheus endpoint (prom-client) are loaded only when configured. */
export async function startFaces(config: AgentConfig, ctx: DiagnosticsContext, socketOption: string | undefined, logger: Logger, stops: Array<() => Promise<void>>): Promise<void> {
  const d = config.diagnostics;
  if (d.enabled) {
    const { DiagnosticsServer } = await import('./server.js');
    const socketPath = socketOption ?? d.socketPath ?? defaultSocketPath({ ...process.env, EDGE_AGENT_SOCKET: undefined });
    const server = await DiagnosticsServer.start({ socketPath, ...(d.group ? { group: d.group } : {}), context: ctx, logger: logger.child({ module: 'diagnostics' }) });
    stops.push(() => server.close());
  }
  if (d.prometheus) {
    const { startMetricsServer } = await import('./metrics.js');
    const metrics = await startMetricsServer(ctx, { host: d.prometheus.host, port: d.prometheus.port, logger: logger.child({ module: 'diagnostics' }) });
    stops.push(metrics.close);
  }
}

