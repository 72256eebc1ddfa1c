import { spawn } from 'node:child_process';
import { closeSync, fstatSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { childLimit } from '../../support/child.js';
import { ROOT } from '../../support/cli.js';
import { tempDir } from '../../support/tmp.js';

/**
 * journald reads a `<N>` prefix on each stdout line as the line's syslog priority (sd-daemon(3)).
 * A container has no journal to ask, so the prefix is measured where journald would read it: on
 * the stdout of a real process using the agent's loggers, with JOURNAL_STREAM naming that stdout
 * as systemd does (device:inode), and not naming it.
 */
const dir = tempDir('journald');
afterAll(() => dir.cleanup());

const script = join(dir.path, 'log-every-level.ts');
writeFileSync(
  script,
  `import { LogControl } from ${JSON.stringify(join(ROOT, 'agent/diagnostics/log-control.ts'))};
import { createRootLogger } from ${JSON.stringify(join(ROOT, 'agent/core/logger.ts'))};
const logs = new LogControl('trace');
const log = logs.logger.child({ module: 'probe' });
log.trace('t'); log.debug('d'); log.info('i'); log.warn('w'); log.error({ err: new Error('boom') }, 'e'); log.fatal('f');
createRootLogger('info').warn('root');
process.stderr.write(JSON.stringify(logs.tail(10).map((e) => e.msg)));
`,
);

/** Runs the script with stdout on `stdoutFd` (or a pipe) and the environment given. */
function run(env: NodeJS.ProcessEnv, stdoutFd?: number): Promise<{ stdout: string; stderr: string; code: number | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script], { cwd: ROOT, env: { ...process.env, JOURNAL_STREAM: '', EDGE_LOG_SYSLOG_PREFIX: '', ...env }, stdio: ['ignore', stdoutFd ?? 'pipe', 'pipe'], ...childLimit() });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ stdout, stderr, code }));
  });
}

const EXPECTED = [
  ['t', 7],
  ['d', 7],
  ['i', 6],
  ['w', 4],
  ['e', 3],
  ['f', 2],
  ['root', 4],
] as const;

describe('journald priority on each stdout line', () => {
  it('stdout is the journal (JOURNAL_STREAM names it): <N> by level, fatal 2 … debug/trace 7; the line after it is pino JSON; logs shows no prefix', async () => {
    const file = join(dir.path, 'journal-stream.out');
    const fd = openSync(file, 'w');
    const st = fstatSync(fd, { bigint: true });
    const r = await run({ JOURNAL_STREAM: `${st.dev}:${st.ino}` }, fd);
    closeSync(fd);
    expect(r.code, r.stderr).toBe(0);
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
    expect(lines).toHaveLength(EXPECTED.length);
    // Two loggers write fd 1 each through its own buffer: their lines may interleave either way.
    const seen = lines.map((line) => {
      const m = /^<(\d)>(\{.*\})$/.exec(line);
      expect(m, line).not.toBeNull();
      const entry = JSON.parse(m![2]!) as { msg: string; err?: { message: string; type: string } };
      if (entry.msg === 'e') expect(entry.err).toMatchObject({ type: 'Error', message: 'boom' });
      return [entry.msg, Number(m![1])] as const;
    });
    expect(new Map(seen)).toEqual(new Map(EXPECTED));
    // The in-memory copy `edge-agent logs` reads is the plain line.
    expect(JSON.parse(r.stderr)).toEqual(['t', 'd', 'i', 'w', 'e', 'f']);
  });

  it('JOURNAL_STREAM inherited but stdout a pipe: plain JSON; EDGE_LOG_SYSLOG_PREFIX=1 forces the prefix', async () => {
    const otherFd = openSync(join(dir.path, 'elsewhere'), 'w');
    const other = fstatSync(otherFd, { bigint: true });
    closeSync(otherFd);
    const plain = await run({ JOURNAL_STREAM: `${other.dev}:${other.ino}` });
    expect(plain.code, plain.stderr).toBe(0);
    for (const line of plain.stdout.trimEnd().split('\n')) expect(line).toMatch(/^\{"level":\d+,/);
    const forced = await run({ EDGE_LOG_SYSLOG_PREFIX: '1' });
    const forcedSeen = forced.stdout.trimEnd().split('\n').map((l) => {
      const m = /^<(\d)>(\{.*\})$/.exec(l);
      return [(JSON.parse(m![2]!) as { msg: string }).msg, Number(m![1])] as const;
    });
    expect(new Map(forcedSeen)).toEqual(new Map(EXPECTED));
  });
});
