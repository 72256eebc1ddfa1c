/** One change of the connection, for logs, `edge-agent status` and the reported health. */
export interface ConnectionEvent {
  at: number;
  event: 'connecting' | 'connected' | 'failed' | 'lost' | 'renewing' | 'closed';
  /** Why: the error code and message, or the planned reason (token renewal, liveness). */
  code?: string;
  reason?: string;
}

/** A bounded ring of connection events, newest last, with running totals that never roll over. */
export class ConnectionHistory {
  private readonly events: ConnectionEvent[] = [];
  readonly totals = { connects: 0, failures: 0, losses: 0, renewals: 0 };

  constructor(private readonly capacity = 50) {}

  add(e: ConnectionEvent): void {
    this.events.push(e);
    if (this.events.length > this.capacity) this.events.shift();
    if (e.event === 'connected') this.totals.connects++;
    else if (e.event === 'failed') this.totals.failures++;
    else if (e.event === 'lost') this.totals.losses++;
    else if (e.event === 'renewing') this.totals.renewals++;
  }

  list(): ConnectionEvent[] {
    return this.events.map((e) => ({ ...e }));
  }
}
