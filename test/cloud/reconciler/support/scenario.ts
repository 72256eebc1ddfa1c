import type { WireRecord } from '../../../../agent/core/wire.js';
import { EdgeError } from '../../../../agent/core/errors.js';
import type { Clock } from '../../../../agent/core/clock.js';
import type { MethodInvoker, MethodResponse } from '../../../../cloud/reconciler/resend.js';
import type { EventRow, ReadingRow, ResultRow } from '../../../../cloud/reconciler/store.js';
import { AgentScript, packMessage, toTelemetry, type SentRecord, type Telemetry } from './wire-builder.js';
import { mulberry32 } from '../../../../drivers/synthetic/drift-signal.js';

/**
 * Generates a fleet's traffic with the faults the reconciler must survive (duplicates,
 * reordering, drops the device can resend, drops it has evicted, revisions, reboots, a
 * multi-day outage backlog, a device with a fast clock) and the ground truth it should end with.
 * Deterministic per seed, so a forked child can regenerate the same log.
 */
export interface ScenarioOptions {
  seed: number;
  devices: number;
  recordsPerDevice: number;
  /** Records per message, at most. */
  perMessage?: number;
  duplicateRate?: number;
  reorderRate?: number;
  /** Messages that never arrive by themselves… */
  dropRate?: number;
  /** …of which this fraction the device has evicted (lost); the rest it can resend. */
  evictRate?: number;
  reviseRate?: number;
  /** Records between reboots (new boot id, seq carries on); 0 = never. */
  rebootEvery?: number;
  /** Messages sent in the middle third are delivered this much later, as one backlog. */
  outageMs?: number;
  gzipRate?: number;
  /** Device index whose clock runs ahead, and by how much. */
  skewed?: { device: number; aheadMs: number };
  start?: number;
}

export interface Delivery {
  telemetry: Telemetry;
  enqueuedTime: number;
}

export interface DeviceTruth {
  device: string;
  boot: string;
  boots: number;
  maxSeq: number;
  /** Seqs that never arrive (evicted), merged into ranges. */
  lost: Array<[number, number]>;
  lostRecords: number;
  records: number;
}

export interface GroundTruth {
  results: ResultRow[];
  readings: ReadingRow[];
  events: EventRow[];
  devices: DeviceTruth[];
}

export interface Scenario {
  /** In log order. */
  deliveries: Delivery[];
  agents: Map<string, AgentState>;
  truth: GroundTruth;
  recordCount: number;
}

export interface AgentState {
  script: AgentScript;
  evicted: Set<number>;
}

export { mulberry32 };

const MINUTE = 60_000;

export function buildScenario(o: ScenarioOptions): Scenario {
  const rnd = mulberry32(o.seed);
  const start = o.start ?? Date.UTC(2026, 10, 1);
  const perMessage = o.perMessage ?? 8;
  const agents = new Map<string, AgentState>();
  type Planned = { device: string; boot: string; records: WireRecord[]; deliverAt: number; dropped: boolean; evicted: boolean; gzip: boolean };
  const planned: Planned[] = [];
  const span = o.recordsPerDevice * 1000;

  for (let d = 0; d < o.devices; d++) {
    const device = `dev-${String(d).padStart(3, '0')}`;
    const script = new AgentScript(device, `boot-${d}-0`);
    const state: AgentState = { script, evicted: new Set() };
    agents.set(device, state);
    const ahead = o.skewed?.device === d ? o.skewed.aheadMs : 0;
    let window = 0;
    const revisable: Array<{ query: string; key: string; ws: number | null; we: number; rev: number }> = [];
    let boots = 0;
    let pending: WireRecord[] = [];
    let pendingBoot = script.boot;
    const flush = (sendAt: number) => {
      if (pending.length === 0) return;
      const inOutage = o.outageMs !== undefined && sendAt > start + span / 3 && sendAt < start + (2 * span) / 3;
      const deliverAt = inOutage ? Math.floor(start + (2 * span) / 3 + o.outageMs! + (sendAt - start) / 1000) : sendAt + 200 + Math.floor(rnd() * 300);
      const dropped = rnd() < (o.dropRate ?? 0);
      planned.push({
        device,
        boot: pendingBoot,
        records: pending,
        deliverAt,
        dropped,
        evicted: dropped && rnd() < (o.evictRate ?? 0),
        gzip: rnd() < (o.gzipRate ?? 0),
      });
      pending = [];
    };
    for (let i = 0; i < o.recordsPerDevice; i++) {
      const now = start + i * 1000;
      if (o.rebootEvery && i > 0 && i % o.rebootEvery === 0) {
        flush(now);
        script.reboot(`boot-${d}-${++boots}`);
      }
      pendingBoot = script.boot;
      const t = now + ahead;
      const roll = rnd();
      let record: WireRecord;
      if (roll < 0.45) {
        const reviseOld = revisable.length > 0 && rnd() < (o.reviseRate ?? 0);
        if (reviseOld) {
          const w = revisable[Math.floor(rnd() * revisable.length)]!;
          w.rev += 1;
          record = script.result({ query: w.query, out: 'out', key: w.key, ws: w.ws, we: w.we, rev: w.rev, row: { avg: rnd() * 100, n: w.rev + 1 } });
        } else {
          // The window that has just closed (its end is not after the device's now); the group key
          // carries a counter so each new result is a new row.
          const we = Math.floor(t / MINUTE) * MINUTE;
          const snapshot = rnd() < 0.1;
          const w = { query: rnd() < 0.5 ? 'avg_temp' : 'max_pressure', key: JSON.stringify({ sensor: `s${++window}` }), ws: snapshot ? null : we - MINUTE, we, rev: 0 };
          revisable.push(w);
          if (revisable.length > 20) revisable.shift();
          record = script.result({ query: w.query, out: 'out', key: w.key, ws: w.ws, we: w.we, rev: 0, row: { avg: rnd() * 100, n: 1 } });
        }
      } else if (roll < 0.9) {
        const v = rnd() < 0.1 ? null : rnd() < 0.1 ? rnd() < 0.5 : Math.round(rnd() * 10_000) / 100;
        record = script.reading({ t, at: now + 5, src: 'modbus-1', pt: `pt${Math.floor(rnd() * 4)}`, v, q: v === null ? 'bad' : 'good', ...(v === null ? { err: 'timeout' } : { u: 'degC' }) });
      } else {
        record = script.event({ kind: rnd() < 0.5 ? 'event' : 'health', t, name: 'link', data: { up: rnd() < 0.5 } });
      }
      pending.push(record);
      if (pending.length >= 1 + Math.floor(rnd() * perMessage)) flush(now);
    }
    flush(start + o.recordsPerDevice * 1000);
    // The device's newest message always arrives: a drop at the very end is undetectable by seq.
    const last = [...planned].reverse().find((p) => p.device === device);
    if (last) last.dropped = last.evicted = false;
    for (const p of planned) if (p.device === device && p.evicted) for (const r of p.records) state.evicted.add(r.seq);
  }

  // Faults on delivery: reorder swaps delivery times with a neighbour of the same device,
  // duplicates deliver the same message again later.
  const byDevice = new Map<string, Planned[]>();
  for (const p of planned) {
    let list = byDevice.get(p.device);
    if (!list) byDevice.set(p.device, (list = []));
    list.push(p);
  }
  for (const list of byDevice.values()) {
    for (let i = 0; i + 1 < list.length; i++) {
      if (rnd() < (o.reorderRate ?? 0)) {
        const j = Math.min(list.length - 1, i + 1 + Math.floor(rnd() * 3));
        [list[i]!.deliverAt, list[j]!.deliverAt] = [list[j]!.deliverAt, list[i]!.deliverAt];
      }
    }
  }
  const deliveries: Array<Delivery & { order: number }> = [];
  let order = 0;
  for (const p of planned) {
    if (p.dropped) continue;
    const telemetry = toTelemetry(packMessage(p.device, p.boot, p.records), { gzip: p.gzip });
    deliveries.push({ telemetry, enqueuedTime: p.deliverAt, order: order++ });
    if (rnd() < (o.duplicateRate ?? 0)) deliveries.push({ telemetry, enqueuedTime: p.deliverAt + 1 + Math.floor(rnd() * 5000), order: order++ });
  }
  deliveries.sort((a, b) => a.enqueuedTime - b.enqueuedTime || a.order - b.order);

  return {
    deliveries: deliveries.map(({ telemetry, enqueuedTime }) => ({ telemetry, enqueuedTime })),
    agents,
    truth: groundTruth(agents),
    recordCount: [...agents.values()].reduce((n, a) => n + a.script.sent.length, 0),
  };
}

/** What the reconciled tables must hold once every resend has been answered. */
export function groundTruth(agents: Map<string, AgentState>): GroundTruth {
  const results = new Map<string, ResultRow>();
  const readings: ReadingRow[] = [];
  const events: EventRow[] = [];
  const devices: DeviceTruth[] = [];
  for (const [device, a] of agents) {
    const boots = new Set<string>();
    let maxSeq = 0;
    let boot = a.script.boot;
    for (const { boot: b, record: r } of a.script.sent) {
      if (a.evicted.has(r.seq)) continue;
      boots.add(b);
      if (r.seq > maxSeq) {
        maxSeq = r.seq;
        boot = b;
      }
      if (r.kind === 'result') {
        const k = JSON.stringify([device, r.query, r.out, r.key, r.ws, r.we]);
        const prev = results.get(k);
        if (!prev || r.rev > prev.rev || (r.rev === prev.rev && r.seq > prev.seq)) {
          results.set(k, { device, query: r.query, out: r.out, key: r.key, ws: r.ws, we: r.we, rev: r.rev, seq: r.seq, row: r.row, enqueuedTime: 0 });
        }
      } else if (r.kind === 'reading') {
        readings.push({ device, seq: r.seq, src: r.src, pt: r.pt, t: r.t, at: r.at, v: r.v, q: r.q, err: r.err ?? null, u: r.u ?? null });
      } else {
        events.push({ device, seq: r.seq, kind: r.kind, t: r.t, name: r.name, data: r.data });
      }
    }
    const lost = mergeRanges([...a.evicted].sort((x, y) => x - y));
    devices.push({
      device,
      boot,
      boots: boots.size,
      maxSeq,
      lost,
      lostRecords: a.evicted.size,
      records: a.script.sent.length - a.evicted.size,
    });
  }
  const sortKey = (r: ResultRow) => [r.device, r.query, r.out, r.key].join('\u0000');
  return {
    results: [...results.values()].sort((x, y) => (sortKey(x) < sortKey(y) ? -1 : sortKey(x) > sortKey(y) ? 1 : x.we - y.we)),
    readings,
    events,
    devices: devices.sort((x, y) => (x.device < y.device ? -1 : 1)),
  };
}

export function mergeRanges(sortedSeqs: number[]): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (const s of sortedSeqs) {
    const last = out.at(-1);
    if (last && last[1] + 1 >= s) last[1] = Math.max(last[1], s);
    else out.push([s, s]);
  }
  return out;
}

/**
 * TEST DOUBLE of the devices' side of the `resend` direct method (no MQTT; the end-to-end test
 * uses the real SDK): a device re-publishes the records it still holds into the log and names
 * the ones it evicted. Can be
 * put offline to check that an undelivered call leaves the gap open.
 */
export class ResendFleetDouble implements MethodInvoker {
  readonly calls: Array<{ device: string; fromSeq: number; toSeq: number }> = [];
  readonly offline = new Set<string>();

  constructor(
    private readonly agents: Map<string, AgentState>,
    private readonly publish: (t: Telemetry, enqueuedTime: number) => Promise<void>,
    private readonly clock: Clock,
  ) {}

  async invoke(deviceId: string, method: string, payload: unknown): Promise<MethodResponse> {
    const agent = this.agents.get(deviceId);
    if (!agent) throw new EdgeError('EDGE_HUB_DEVICE_UNKNOWN', `no device ${deviceId}`);
    if (this.offline.has(deviceId)) throw new EdgeError('EDGE_HUB_DEVICE_OFFLINE', `device ${deviceId} is offline (404)`);
    if (method !== 'resend') return { status: 501, payload: { error: `no method ${method}` } };
    const { fromSeq, toSeq } = payload as { fromSeq: number; toSeq: number };
    this.calls.push({ device: deviceId, fromSeq, toSeq });
    const keep: SentRecord[] = agent.script.sent.filter((s) => s.record.seq >= fromSeq && s.record.seq <= toSeq && !agent.evicted.has(s.record.seq));
    const sends: Array<Promise<void>> = [];
    for (let i = 0; i < keep.length; i += 8) {
      const records = keep.slice(i, i + 8).map((s) => s.record);
      sends.push(this.publish(toTelemetry(packMessage(deviceId, agent.script.boot, records)), this.clock.now()));
    }
    await Promise.all(sends);
    const evicted = mergeRanges([...agent.evicted].filter((s) => s >= fromSeq && s <= toSeq).sort((a, b) => a - b));
    return { status: 200, payload: { resent: keep.length, evicted: evicted.map(([f, t]) => ({ fromSeq: f, toSeq: t })) } };
  }
}
