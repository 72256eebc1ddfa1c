// edge-agent(1), made from the CLI's own --help (so the page cannot drift from the binary), plus
// what the package puts where.
import { execFileSync } from 'node:child_process';

/** The page, in man(7) markup. `bundle` is the built edge-agent.cjs; `date` is YYYY-MM-DD. */
export function manPage({ bundle, version, date, env }) {
  const help = (args) => execFileSync(process.execPath, [bundle, ...args, '--help'], { encoding: 'utf8', env, timeout: 30_000 });
  const top = help([]);
  const commands = [...top.slice(top.indexOf('Commands:')).matchAll(/^ {2}([a-z][\w-]*)\b/gm)].map((m) => m[1]).filter((c) => c !== 'help');
  const out = [
    `.TH EDGE-AGENT 1 "${date}" "edge-agent ${version}" "User Commands"`,
    '.SH NAME',
    'edge-agent \\- industrial IoT gateway agent: sensors, durable buffer, analytics, Azure IoT Hub',
    '.SH SYNOPSIS',
    '.B edge-agent',
    '.I command',
    '.RI [ options ]',
    '.SH DESCRIPTION',
    'The service runs as',
    '.B edge-agent run',
    'under systemd (edge-agent.service). The other commands ask the running agent',
    'over its diagnostics socket (status, sensors, buffer, config, twin, logs, send-test)',
    'or work without it (modbus read, modbus scan).',
    'The demo, the IoT Hub emulator (hub) and the reconciler (cloud) are not part of this package.',
    '.SH OPTIONS AND COMMANDS',
    ...preformatted(top),
  ];
  for (const c of commands) out.push('.SS ' + c, ...preformatted(help([c])));
  out.push(
    '.SH FILES',
    '.TP',
    '.I /etc/edge-agent/config.json',
    'the configuration (it holds the device key: readable by group edge-agent only)',
    '.TP',
    '.I /var/lib/edge-agent',
    'the buffer; it survives upgrades and is removed on purge',
    '.TP',
    '.I /run/edge-agent/diagnostics.sock',
    'the diagnostics socket',
    '.SH SEE ALSO',
    '.BR systemctl (1),',
    '.BR journalctl (1)',
    '',
  );
  return out.join('\n');
}

/** Text shown as is: no filling, backslashes and minus signs escaped, no line read as a request. */
function preformatted(text) {
  const lines = text
    .trimEnd()
    .split('\n')
    .map((l) => l.replace(/\\/g, '\\e').replace(/-/g, '\\-').replace(/^([.'])/, '\\&$1'));
  return ['.nf', ...lines, '.fi'];
}
