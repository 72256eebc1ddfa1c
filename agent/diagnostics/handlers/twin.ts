import type { DiagnosticsContext } from '../context.js';

/** `edge-agent twin`: the desired `$version` in force, where the config came from, the last refusal. */
export function twin(ctx: DiagnosticsContext): Promise<unknown> {
  if (!ctx.twin) return Promise.resolve({ enabled: false, note: 'this agent runs without twin handling: the config is the file alone' });
  const s = ctx.twin.configStatus();
  return Promise.resolve({
    enabled: ctx.twin.config.twin.enabled,
    version: s.version,
    source: s.source,
    appliedAt: new Date(s.appliedAt).toISOString(),
    ...(s.lastRefusal ? { lastRefusal: s.lastRefusal } : {}),
  });
}
