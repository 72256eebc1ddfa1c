import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import { openGapCount } from './gaps.js';
import type { PartitionLag } from './progress.js';
import type { ReconcilerCounters } from './reconciler.js';
import type { DeviceState, ReconcilerStore } from './store.js';

type Labels = Record<string, string>;

/**
 * The reconciler's figures in Prometheus text exposition, read at each scrape: the running
 * process's totals (what it accepted, dropped, asked again since start) as counters, and the
 * store's committed device state per device. Records per second is `rate(..._records_accepted_total)`;
 * lag is `time() - edge_reconciler_device_last_enqueued_timestamp_seconds`.
 */
export function reconcilerMetrics(store: ReconcilerStore, counters?: () => Promise<ReconcilerCounters>, lag?: () => Promise<PartitionLag[]>): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  // One read per scrape: every collect() of a scrape starts in the same turn (prom-client maps them at once).
  let scrape: Promise<{ c?: ReconcilerCounters; devices: DeviceState[]; lags: PartitionLag[] }> | undefined;
  const read = () => {
    if (!scrape) {
      scrape = Promise.all([counters?.(), store.devices(), lag?.() ?? []]).then(([c, devices, lags]) => (c ? { c, devices, lags } : { devices, lags }));
      queueMicrotask(() => (scrape = undefined));
    }
    return scrape;
  };
  const metric = (kind: 'counter' | 'gauge', name: string, help: string, labelNames: string[], values: (r: Awaited<ReturnType<typeof read>>) => Array<[Labels, number]>) => {
    const Kind = kind === 'counter' ? Counter : Gauge;
    new Kind({
      name: `edge_reconciler_${name}`,
      help,
      labelNames,
      registers: [registry],
      async collect() {
        const r = await read();
        this.reset();
        for (const [labels, v] of values(r)) {
          if (this instanceof Counter) this.inc(labels, Math.max(0, v));
          else this.set(labels, v);
        }
      },
    });
  };
  const total = (key: keyof ReconcilerCounters) => (r: { c?: ReconcilerCounters }): Array<[Labels, number]> => (r.c ? [[{}, r.c[key]]] : []);
  metric('counter', 'records_accepted_total', 'Distinct records this process accepted since start', [], total('acceptedRecords'));
  metric('counter', 'duplicates_dropped_total', 'Records dropped as already reconciled since start', [], total('duplicatesDropped'));
  metric('counter', 'messages_rejected_total', 'Messages rejected whole (not decodable, or naming another device) since start', [], total('rejectedMessages'));
  metric('counter', 'resend_requests_total', 'Resend requests sent to devices for open gaps since start', [], total('resendRequests'));
  metric('counter', 'events_read_total', 'Device messages read from the source and committed since start (lag is counted in these)', [], total('eventsRead'));
  metric('gauge', 'partitions_owned', 'Partitions this instance reads now (Event Hubs moves them between instances)', [], total('partitionsOwned'));
  metric('gauge', 'partition_lag_events', "Events between this instance's committed position and the partition's end, per partition read now", ['partition'], (r) =>
    r.lags.flatMap((l): Array<[Labels, number]> => (l.behind === null ? [] : [[{ partition: l.partition }, l.behind]])),
  );
  metric('gauge', 'partition_newest_read_enqueued_timestamp_seconds', "The hub's enqueued time of the newest event this process read, per partition (its age is time() - it)", ['partition'], (r) =>
    r.lags.flatMap((l): Array<[Labels, number]> => (l.newestEnqueuedTime === null ? [] : [[{ partition: l.partition }, l.newestEnqueuedTime / 1000]])),
  );
  metric('gauge', 'reconciled_rows', 'Rows in the reconciled tables (results, readings, events)', [], total('reconciledRows'));
  metric('gauge', 'gaps_open', 'Gaps still waiting for the device, per device', ['device'], (r) => r.devices.map((d) => [{ device: d.device }, openGapCount(d.gaps)]));
  metric('counter', 'device_records_total', 'Distinct records reconciled per device (committed; survives restarts)', ['device'], (r) => r.devices.map((d) => [{ device: d.device }, d.records]));
  metric('counter', 'device_lost_records_total', 'Records the device declared evicted (committed; survives restarts)', ['device'], (r) => r.devices.map((d) => [{ device: d.device }, d.lostRecords]));
  metric('gauge', 'device_last_enqueued_timestamp_seconds', "The hub's enqueued time of the newest message reconciled per device", ['device'], (r) => r.devices.map((d) => [{ device: d.device }, d.lastEnqueued / 1000]));
  metric('gauge', 'device_clock_ahead_seconds', "How far the device's application time led the hub's enqueued time in its latest message", ['device'], (r) => r.devices.map((d) => [{ device: d.device }, d.clockAheadMs / 1000]));
  return registry;
}
