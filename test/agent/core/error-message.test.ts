import { describe, expect, it } from 'vitest';
import { errorMessage } from '../../../agent/core/errors.js';

describe('errorMessage', () => {
  it('is the message when there is one, and never blank when the error says nothing itself', () => {
    expect(errorMessage(new Error('disk full'))).toBe('disk full');
    expect(errorMessage('plain text')).toBe('plain text');
    // What Node gives for a host tried at several addresses: an empty message over the attempts.
    const refused = (address: string) => Object.assign(new Error(`connect ECONNREFUSED ${address}`), { code: 'ECONNREFUSED' });
    expect(errorMessage(new AggregateError([refused('::1:9'), refused('127.0.0.1:9')], ''))).toBe('connect ECONNREFUSED ::1:9; connect ECONNREFUSED 127.0.0.1:9');
    expect(errorMessage(new Error('', { cause: new Error('socket hang up') }))).toBe('socket hang up');
    expect(errorMessage(Object.assign(new Error(''), { code: 'ETIMEDOUT' }))).toBe('ETIMEDOUT');
    const named = new Error('');
    named.name = 'MessagingError';
    expect(errorMessage(named)).toBe('MessagingError');
  });
});
