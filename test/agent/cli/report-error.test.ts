import { describe, expect, it } from 'vitest';
import { reportError } from '../../../agent/cli/exit.js';
import { EdgeError } from '../../../agent/core/errors.js';

function printed(err: unknown): string {
  let out = '';
  reportError(err, (s) => (out += s));
  return out;
}

describe('reportError', () => {
  it('adds the cause on a second line only when it says something the message does not', () => {
    const adds = new EdgeError('EDGE_TRANSPORT_UNAVAILABLE', 'Event Hubs: the hub refused the link', { cause: new Error('amqp:unauthorized-access') });
    expect(printed(adds)).toBe('edge-agent: Event Hubs: the hub refused the link [EDGE_TRANSPORT_UNAVAILABLE]\n  because: amqp:unauthorized-access\n');
    const quoted = new EdgeError('EDGE_USAGE', 'not an Event Hubs connection string: Connection string malformed', { cause: new Error('Connection string malformed') });
    expect(printed(quoted)).toBe('edge-agent: not an Event Hubs connection string: Connection string malformed [EDGE_USAGE]\n');
  });
});
