import { readFileSync } from 'node:fs';
import type { Logger } from '../core/logger.js';
import type { DiagnosticsContext } from '../diagnostics/context.js';
import { buffer } from '../diagnostics/handlers/buffer.js';
import { config } from '../diagnostics/handlers/config.js';
import { statusReport } from '../diagnostics/handlers/status.js';
import { bindMethodsNowAndLater, supportMethodHandlers } from '../methods/support-methods.js';
import { HubFileUpload } from '../transport/file-upload.js';
import type { HubLink } from '../transport/hub-link.js';
import { buildLogsFile, buildSupportBundle, type BundleSources } from './bundle.js';
import { parseLogFilter } from './log-filter.js';
import { secretsIn } from './redact.js';

/** Under the 30 s a caller's direct method waits by default, so the answer is ours, not a timeout. */
const UPLOAD_TIMEOUT_MS = 25_000;

/**
 * Gives a running agent `uploadSupportBundle` and `uploadLogs`: the bundle reads what the
 * diagnostics faces show (`status`, `buffer`, `config`) and the logs the agent keeps in memory.
 */
export function attachSupportMethods(o: { ctx: DiagnosticsContext; link: HubLink; logger: Logger }): void {
  const { ctx } = o;
  const hub = ctx.fileConfig.hub;
  const deviceId = ctx.agent.stats().deviceId;
  // The file's and the twin's config alike: a secret set through either is masked.
  const secrets = () => [...new Set([...secretsIn(ctx.fileConfig), ...secretsIn(ctx.twin?.config)])];
  const sources: BundleSources = {
    deviceId,
    agentVersion: ctx.version,
    boot: () => ctx.agent.stats().boot,
    startedAt: () => ctx.agent.stats().startedAt,
    clock: ctx.clock,
    logs: () => ctx.logs.tail(Number.MAX_SAFE_INTEGER),
    status: () => Promise.resolve(statusReport(ctx)),
    buffer: () => buffer(ctx),
    config: () => config(ctx),
    secrets,
  };
  const uploader = new HubFileUpload({
    link: o.link,
    deviceId,
    ...(hub.caFile ? { ca: readFileSync(hub.caFile, 'utf8') } : {}),
    timeoutMs: UPLOAD_TIMEOUT_MS,
    clock: ctx.clock,
    logger: o.logger.child({ module: 'file-upload' }),
  });
  const handlers = supportMethodHandlers({
    supportBundle: (payload) => buildSupportBundle(sources, parseLogFilter(payload, ctx.clock.now())),
    logs: (payload) => Promise.resolve(buildLogsFile(sources, parseLogFilter(payload, ctx.clock.now()))),
    upload: (name, data) => uploader.upload(name, data),
  });
  bindMethodsNowAndLater(o.link, handlers, o.logger.child({ module: 'methods' }));
}
