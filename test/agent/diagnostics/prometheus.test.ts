import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, untilOutput } from '../../support/cli.js';
import { conventionProblems, countersGoingDown, parseExposition, sampleValue, type Family } from '../../support/prom-text.js';
import { startCliAgent, type RunningCliAgent } from './running-agent.js';

/** The figures that only grow: each must be a counter (named `_total`), never a gauge. */
const COUNTERS = [
  'edge_agent_readings_accepted_total',
  'edge_agent_readings_rejected_total',
  'edge_agent_messages_acked_total',
  'edge_agent_records_acked_total',
  'edge_agent_sent_bytes_total',
  'edge_agent_billed_units_total',
  'edge_agent_send_failures_total',
  'edge_agent_source_polls_total',
  'edge_agent_source_errors_total',
  'edge_agent_hub_connects_total',
  'edge_agent_hub_reconnects_total',
  'edge_agent_hub_disconnects_total',
  'edge_agent_buffer_evicted_records_total',
  'process_cpu_seconds_total',
];

describe('Prometheus endpoint of a running agent (edge-agent run, bound to 0.0.0.0)', () => {
  let a: RunningCliAgent;
  const scrape = async (): Promise<Map<string, Family>> => {
    const res = await fetch(`http://127.0.0.1:${a.metricsPort}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    return parseExposition(await res.text());
  };

  beforeAll(async () => {
    a = await startCliAgent({ deviceId: 'prom-gw', prometheusHost: '0.0.0.0' });
    // Metrics come up before the first connection is made: wait for it, so `hub_connected` is 1.
    if (!/"msg":"connected to IoT Hub"/.test(a.output())) await untilOutput(a.child.stdout, /"msg":"connected to IoT Hub"/);
  });
  afterAll(async () => {
    await a?.cleanup();
  });

  it('listens on the configured address', () => {
    expect(a.output()).toMatch(/"host":"0\.0\.0\.0","port":\d+,"msg":"Prometheus metrics on \/metrics"/);
  });

  it('follows the conventions: counters end in _total, base units in names, process and Node metrics beside ours', async () => {
    const f = await scrape();
    expect(conventionProblems(f, 'edge_agent_')).toEqual([]);
    for (const name of COUNTERS) expect(f.get(name)?.type, name).toBe('counter');
    for (const [name, type] of [
      ['edge_agent_buffer_bytes', 'gauge'],
      ['edge_agent_buffer_oldest_unsent_age_seconds', 'gauge'],
      ['edge_agent_uptime_seconds', 'gauge'],
      ['edge_agent_hub_connected', 'gauge'],
      ['edge_agent_alarm_active', 'gauge'],
      ['process_resident_memory_bytes', 'gauge'],
      ['nodejs_heap_size_used_bytes', 'gauge'],
      ['nodejs_eventloop_lag_seconds', 'gauge'],
    ] as const) {
      expect(f.get(name)?.type, name).toBe(type);
    }
    expect(sampleValue(f, 'edge_agent_hub_connected')).toBe(1);
    expect(sampleValue(f, 'edge_agent_source_up', { driver: 'sim', source: 'boiler-1' })).toBe(1);
    expect(sampleValue(f, 'edge_agent_buffer_quota_bytes')).toBe(1073741824);
  });

  it('values move: a send-test raises readings, messages, bytes and billed units; no counter goes down', async () => {
    const before = await scrape();
    const run = await runCli(['send-test', '--timeout', '20s', '--socket', a.socketPath]);
    expect(run.stdout).toMatch(/^delivered/);
    const after = await scrape();
    expect(countersGoingDown(before, after)).toEqual([]);
    for (const name of ['edge_agent_readings_accepted_total', 'edge_agent_messages_acked_total', 'edge_agent_records_acked_total', 'edge_agent_sent_bytes_total', 'edge_agent_billed_units_total']) {
      expect(sampleValue(after, name), name).toBeGreaterThan(sampleValue(before, name)!);
    }
    expect(sampleValue(after, 'edge_agent_source_polls_total', { driver: 'sim', source: 'boiler-1' })).toBeGreaterThan(sampleValue(before, 'edge_agent_source_polls_total', { driver: 'sim', source: 'boiler-1' })!);
  });

  it('a dropped connection counts as a disconnect and a reconnect', async () => {
    const before = await scrape();
    expect(sampleValue(before, 'edge_agent_hub_reconnects_total')).toBe(0);
    const reconnected = untilOutput(a.child.stdout, /"generation":2,[^\n]*"msg":"connected to IoT Hub"/);
    expect(a.hub.faults.dropConnection('prom-gw')).toBe(true);
    await reconnected;
    const after = await scrape();
    expect(sampleValue(after, 'edge_agent_hub_disconnects_total')).toBe(1);
    expect(sampleValue(after, 'edge_agent_hub_reconnects_total')).toBe(1);
    expect(sampleValue(after, 'edge_agent_hub_connects_total')).toBe(2);
    expect(countersGoingDown(before, after)).toEqual([]);
  });
});
