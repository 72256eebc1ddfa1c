import { ManualClock } from '../../../agent/core/clock.js';
import { ConnectionSupervisor } from '../../../agent/transport/supervisor.js';
import { FakeHubTransport } from '../../support/fake-transport.js';
import { allEvents, startHub } from '../../support/hub.js';
import { supervisorOptions } from './support.js';
import { transportConformance } from './transport-conformance.js';

transportConformance('the fake hub (ManualClock)', async () => {
  const clock = new ManualClock(1_000_000);
  const sendTimeoutMs = 5000;
  const transport = new FakeHubTransport(clock, { sendTimeoutMs });
  let holding = false;
  const original = transport.send.bind(transport);
  transport.send = (m) => {
    if (holding) transport.next({ kind: 'hang' });
    return original(m);
  };
  return {
    transport,
    sendTimeoutMs,
    stored: async (id) => transport.acked.some((m) => m.messageId === id),
    withholdAcks: () => (holding = true),
    passTime: async (ms) => clock.advance(ms),
    cleanup: () => transport.close(),
  };
});

transportConformance('the connection supervisor over the real SDK and the emulator', async () => {
  const { hub, close } = await startHub();
  const dev = await hub.registerDevice('conformance-gw');
  const sendTimeoutMs = 1500;
  const transport = new ConnectionSupervisor(supervisorOptions(dev.connectionString, hub.caPem, { sendTimeoutMs }));
  return {
    transport,
    sendTimeoutMs,
    stored: async (id) => (await allEvents(hub)).some((e) => e.systemProperties['message-id'] === id),
    withholdAcks: () => hub.faults.holdAcks('conformance-gw'),
    passTime: async () => undefined,
    cleanup: async () => {
      hub.faults.releaseAcks('conformance-gw', { deliver: false });
      await transport.close();
      await close();
    },
  };
});
