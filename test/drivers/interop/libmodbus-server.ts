import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { childLimit, execFileLimited, LONG_MS } from '../../support/child.js';

/**
 * A Modbus TCP slave we did not write: libmodbus's own server, compiled at test time (once
 * per source version, cached in the OS temp dir). Its register map is fixed below.
 */
const SOURCE = String.raw`
#include <modbus.h>
#include <stdio.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <netinet/in.h>

int main(void) {
  modbus_t *ctx = modbus_new_tcp("127.0.0.1", 0);
  modbus_mapping_t *mb = modbus_mapping_new(16, 16, 100, 100);
  if (!ctx || !mb) return 1;
  for (int i = 0; i < 100; i++) { mb->tab_registers[i] = i * 11 + 1; mb->tab_input_registers[i] = 1000 + i; }
  mb->tab_registers[50] = 0x4148; mb->tab_registers[51] = 0x0000; /* 12.5f, ABCD */
  mb->tab_registers[52] = 0x0000; mb->tab_registers[53] = 0x4148; /* 12.5f, CDAB */
  mb->tab_registers[60] = 0xFFFE; /* int16 -2 */
  mb->tab_bits[0] = 1; mb->tab_bits[2] = 1; mb->tab_input_bits[1] = 1;
  int s = modbus_tcp_listen(ctx, 4);
  if (s < 0) return 2;
  struct sockaddr_in a; socklen_t l = sizeof a;
  getsockname(s, (struct sockaddr *)&a, &l);
  printf("PORT %d\n", ntohs(a.sin_port));
  fflush(stdout);
  for (;;) {
    if (modbus_tcp_accept(ctx, &s) < 0) return 3;
    for (;;) {
      uint8_t q[MODBUS_TCP_MAX_ADU_LENGTH];
      int rc = modbus_receive(ctx, q);
      if (rc > 0) modbus_reply(ctx, q, rc, mb);
      else if (rc == -1) break;
    }
    close(modbus_get_socket(ctx));
  }
}
`;

/** What the libmodbus server holds, for assertions. */
export const LIBMODBUS_MAP = {
  holding: (i: number) => i * 11 + 1,
  input: (i: number) => 1000 + i,
  float32At50: 12.5,
  float32CdabAt52: 12.5,
  int16At60: -2,
  coils: [true, false, true, false],
  discretes: [false, true, false],
};

export async function compileLibmodbusServer(): Promise<string> {
  const hash = createHash('sha256').update(SOURCE).digest('hex').slice(0, 12);
  const dir = join(tmpdir(), 'edge-agent-libmodbus');
  const bin = join(dir, `server-${hash}`);
  if (existsSync(bin)) return bin;
  mkdirSync(dir, { recursive: true });
  const src = join(dir, `server-${hash}-${process.pid}.c`);
  writeFileSync(src, SOURCE);
  const tmpBin = `${bin}.${process.pid}`;
  await execFileLimited('cc', [src, '-o', tmpBin, '-lmodbus', '-I/usr/include/modbus']);
  renameSync(tmpBin, bin); // atomic: parallel workers never run a half-written binary
  return bin;
}

export async function startLibmodbusServer(): Promise<{ port: number; process: ChildProcess; close(): Promise<void> }> {
  const bin = await compileLibmodbusServer();
  const child = spawn(bin, [], { stdio: ['ignore', 'pipe', 'inherit'], ...childLimit(LONG_MS) });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (c: string) => {
      out += c;
      const m = /PORT (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`libmodbus server exited (${code}) before listening`)));
  });
  return {
    port,
    process: child,
    close: async () => {
      child.kill('SIGTERM');
      await exited;
    },
  };
}
