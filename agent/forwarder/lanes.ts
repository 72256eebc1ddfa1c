/**
 * Live-first scheduling. Records staged since the link last came back are *live*; older unsent
 * ones are the *backlog*. Each lane is read in seq order from its own cursor. When both have
 * data, the backlog gets `backlogShare` of the messages and live data the rest, so fresh
 * readings are never stuck behind days of backlog, and the backlog still drains.
 */
export class Lanes {
  /** First seq of the live lane. */
  liveFrom = 1;
  liveCursor = 0;
  backlogCursor = 0;
  private sentLive = 0;
  private sentBacklog = 0;

  constructor(private backlogShare: number) {
    this.setBacklogShare(backlogShare);
  }

  setBacklogShare(share: number): void {
    if (!(share > 0 && share <= 1)) throw new TypeError('backlogShare must be in (0, 1]');
    this.backlogShare = share;
  }

  /** Everything unsent becomes backlog; records staged from `upcomingSeq` on are live. */
  restart(upcomingSeq: number): void {
    this.liveFrom = upcomingSeq;
    this.liveCursor = upcomingSeq - 1;
    this.backlogCursor = 0;
    this.sentLive = 0;
    this.sentBacklog = 0;
  }

  /** Which lane sends next when both have records: live first, then the backlog's share. */
  pick(): 'live' | 'backlog' {
    const total = this.sentLive + this.sentBacklog;
    return total > 0 && this.sentBacklog / total < this.backlogShare ? 'backlog' : 'live';
  }

  /** The backlog lane found nothing more to read: it is drained up to the live lane. */
  backlogDrained(): void {
    this.backlogCursor = this.liveFrom - 1;
  }

  /** Whether older unsent records may still wait behind the live lane. */
  get hasBacklog(): boolean {
    return this.backlogCursor < this.liveFrom - 1;
  }

  sent(lane: 'live' | 'backlog', toSeq: number): void {
    if (lane === 'live') {
      this.sentLive++;
      this.liveCursor = toSeq;
    } else {
      this.sentBacklog++;
      this.backlogCursor = toSeq;
    }
  }
}
