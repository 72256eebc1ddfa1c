import type { AgentConfig } from '../config/schema.js';
import type { Problem } from '../config/problems.js';
import { DesiredState } from './desired-state.js';

/**
 * What the agent would do with a desired document (or patch) pushed to its twin, offline: the
 * same state machine, on a twin that held nothing before. Nulls count as a patch's deletes; IoT
 * Hub's `$version`/`$metadata` are ignored, as the hub sets them.
 */
export function checkDesired(file: AgentConfig, doc: unknown): { ok: true; config: AgentConfig } | { ok: false; problems: Problem[] } {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return { ok: false, problems: [{ path: '(root)', message: 'a desired document is a JSON object' }] };
  const state = new DesiredState(file);
  state.offerFull({ $version: 1 }, file.twin.maxDesiredBytes);
  const decision = state.offerPatch({ ...doc, $version: 2 }, file.twin.maxDesiredBytes);
  if (decision.kind === 'apply') return { ok: true, config: decision.config };
  if (decision.kind === 'refuse') return { ok: false, problems: decision.reason.problems ?? [{ path: decision.reason.path, message: decision.reason.message }] };
  // A fresh mirror at version 1 takes version 2 as the next patch: no other decision can come.
  throw new Error(`desired check: unexpected decision ${decision.kind}`);
}
