// The environment the systemd unit gives the agent, so a benchmark's child runs as a gateway's does.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * `Environment=` lines of config/edge-agent.service (NODE_OPTIONS caps V8's heap, MALLOC_ARENA_MAX
 * glibc's arenas).
 */
export function unitEnvironment(root: string): Record<string, string> {
  const unit = readFileSync(join(root, 'config/edge-agent.service'), 'utf8');
  const env: Record<string, string> = {};
  for (const m of unit.matchAll(/^Environment=(?:"([^"]*)"|(\S+))$/gm)) {
    const [name, ...value] = (m[1] ?? m[2])!.split('=');
    env[name!] = value.join('=');
  }
  return env;
}
