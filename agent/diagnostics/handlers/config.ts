import type { DiagnosticsContext } from '../context.js';
import { configProvenance, redact, type Provenance } from '../provenance.js';

/** `edge-agent config`: the effective config, each value with where it came from. */
export function config(ctx: DiagnosticsContext): Promise<{ file: string; effective: unknown; sources: Record<string, Provenance> }> {
  const effective = ctx.twin?.config ?? ctx.fileConfig;
  return Promise.resolve({
    file: ctx.filePath,
    effective: redact(effective),
    sources: configProvenance({ effective, fileConfig: ctx.fileConfig, fileDocument: ctx.fileDocument }),
  });
}
