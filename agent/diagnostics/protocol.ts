/**
 * The diagnostics protocol: JSON lines over a local UNIX socket. The client writes one request
 * line; the server answers with one `reply` line and closes, or (streaming commands such as
 * `logs --follow`) with `event` lines until the client goes away.
 *
 *   → {"cmd":"status","args":{}}
 *   ← {"ok":true,"result":{…}}
 *   ← {"ok":false,"error":{"code":"EDGE_USAGE","message":"…"}}
 *   ← {"event":{…}}            (streaming only)
 *
 * The socket's file mode (0660, the service's group) is the access control: whoever can connect
 * may read everything and change the log level, so the socket never leaves the runtime directory.
 */
export const PROTOCOL_VERSION = 1;

export interface DiagRequest {
  cmd: string;
  args?: Record<string, unknown>;
}

export type DiagReply = { ok: true; result: unknown } | { ok: false; error: { code: string; message: string } };

export type DiagLine = DiagReply | { event: unknown };

/** Longest request line accepted; requests are tiny, anything bigger is not a client of ours. */
export const MAX_REQUEST_BYTES = 64 * 1024;

/** Splits a byte stream into lines and hands each parsed JSON value on. */
export function lineReader(onLine: (value: unknown) => void, onBad: (text: string) => void): (chunk: Buffer) => void {
  let pending = '';
  return (chunk) => {
    pending += chunk.toString('utf8');
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      if (line.trim() === '') continue;
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch {
        onBad(line);
        continue;
      }
      onLine(value);
    }
    if (pending.length > MAX_REQUEST_BYTES) {
      onBad(pending.slice(0, 80));
      pending = '';
    }
  };
}

export function encodeLine(value: DiagLine | DiagRequest): string {
  return JSON.stringify(value) + '\n';
}
