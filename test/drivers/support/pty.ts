import { afterEach } from 'vitest';
import { openPtyPair, type PtyPair, type PtyPairOptions } from '../../../drivers/simulators/socat-pty.js';

/**
 * Real pseudo-terminal pairs for tests: `socat -d -d pty,raw,echo=0 pty,raw,echo=0`, ready
 * once socat's stderr has named both ends and started its loop; killed after each test.
 */
export function usePtyPairs(): (options?: PtyPairOptions) => Promise<PtyPair> {
  const open: PtyPair[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((p) => p.close()));
  });
  return async (options) => {
    const pair = await openPtyPair(options);
    open.push(pair);
    return pair;
  };
}
