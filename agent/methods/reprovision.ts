import type { ProvisioningStatus } from '../transport/hub-target.js';
import type { MethodHandler } from './handlers.js';

export interface ReprovisionDeps {
  /** Marks a registration as due; undefined when the agent is not provisioned by DPS. */
  request: (reason: string) => ProvisioningStatus | undefined;
  /** Drops the current link so the next connect registers; run once the answer is sent. */
  reconnect: () => void;
}

/**
 * `reprovision`: register with DPS again and move to the hub it assigns. Answers 202 before the
 * link is dropped (the answer travels on it); nothing buffered is lost, sends resume on the new
 * hub with the next seqs. 409 for an agent configured with a connection string.
 */
export function reprovisionHandler(deps: ReprovisionDeps): MethodHandler {
  return async (payload) => {
    const why = typeof payload === 'object' && payload !== null && typeof (payload as { reason?: unknown }).reason === 'string' ? (payload as { reason: string }).reason : undefined;
    const status = deps.request(`reprovision method${why ? `: ${why}` : ''}`);
    if (!status) return { status: 409, payload: { error: { code: 'EDGE_USAGE', message: 'this agent connects with hub.connectionString, not DPS provisioning: nothing to reprovision' } } };
    return { status: 202, payload: { accepted: true, registrationId: status.registrationId, currentHub: status.assignedHub ?? null }, after: deps.reconnect };
  };
}
