import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { childLimit, execFileLimited, LONG_MS } from '../../support/child.js';

/**
 * A Modbus RTU slave we did not write: libmodbus's own (the Debian package, 3.1.6), on one end
 * of a pty pair, compiled at test time (once per source version, cached in the OS temp dir).
 * It holds 32 coils and 100 holding registers (an address beyond is ILLEGAL DATA ADDRESS) and
 * prints, after each write it answered, the registers or coils it now holds, so a test can check
 * the bytes on the device without our own codec in the way.
 */
const SOURCE = String.raw`
#include <modbus.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
  if (argc < 3) return 64;
  modbus_t *ctx = modbus_new_rtu(argv[1], 9600, 'N', 8, 1);
  modbus_mapping_t *mb = modbus_mapping_new(32, 0, 100, 0);
  if (!ctx || !mb) return 1;
  modbus_set_slave(ctx, atoi(argv[2]));
  if (modbus_connect(ctx) < 0) { fprintf(stderr, "connect: %s\n", modbus_strerror(errno)); return 2; }
  printf("READY %s\n", modbus_get_header_length(ctx) == 1 ? "rtu" : "?");
  fflush(stdout);
  for (;;) {
    uint8_t q[MODBUS_RTU_MAX_ADU_LENGTH];
    int rc = modbus_receive(ctx, q);
    if (rc <= 0) {
      if (rc == -1 && (errno == EBADF || errno == EIO)) return 3;
      continue;
    }
    if (modbus_reply(ctx, q, rc, mb) < 0) continue;
    int fc = q[1];
    int addr = (q[2] << 8) | q[3];
    int n = fc == 5 || fc == 6 ? 1 : ((q[4] << 8) | q[5]);
    if (fc == 6 || fc == 16) {
      if (addr + n > 100) continue;
      printf("W %d %d", fc, addr);
      for (int i = 0; i < n; i++) printf(" %04x", mb->tab_registers[addr + i]);
      printf("\n");
      fflush(stdout);
    } else if (fc == 5 || fc == 15) {
      if (addr + n > 32) continue;
      printf("C %d %d", fc, addr);
      for (int i = 0; i < n; i++) printf(" %d", mb->tab_bits[addr + i]);
      printf("\n");
      fflush(stdout);
    }
  }
}
`;

export interface LibmodbusWrite {
  /** `W` for registers, `C` for coils. */
  kind: 'W' | 'C';
  fc: number;
  address: number;
  /** Register words as 4-digit hex, or coils as 0/1. */
  values: string[];
}

export async function compileLibmodbusRtuSlave(): Promise<string> {
  const hash = createHash('sha256').update(SOURCE).digest('hex').slice(0, 12);
  const dir = join(tmpdir(), 'edge-agent-libmodbus');
  const bin = join(dir, `rtu-slave-${hash}`);
  if (existsSync(bin)) return bin;
  mkdirSync(dir, { recursive: true });
  const src = join(dir, `rtu-slave-${hash}-${process.pid}.c`);
  writeFileSync(src, SOURCE);
  const tmpBin = `${bin}.${process.pid}`;
  await execFileLimited('cc', [src, '-o', tmpBin, '-lmodbus', '-I/usr/include/modbus']);
  renameSync(tmpBin, bin); // atomic: parallel workers never run a half-written binary
  return bin;
}

/** Starts the slave as `unit` on `path`; resolves once it has opened the port. Emits `write`. */
export async function startLibmodbusRtuSlave(path: string, unit: number): Promise<{ writes: EventEmitter<{ write: [LibmodbusWrite] }>; close(): Promise<void> }> {
  const bin = await compileLibmodbusRtuSlave();
  const child = spawn(bin, [path, String(unit)], { stdio: ['ignore', 'pipe', 'inherit'], ...childLimit(LONG_MS) });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const writes = new EventEmitter<{ write: [LibmodbusWrite] }>();
  await new Promise<void>((resolve, reject) => {
    let buf = '';
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (c: string) => {
      buf += c;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (line.startsWith('READY')) resolve();
        const m = /^([WC]) (\d+) (\d+) (.*)$/.exec(line);
        if (m) writes.emit('write', { kind: m[1] as 'W' | 'C', fc: Number(m[2]), address: Number(m[3]), values: m[4]!.split(' ') });
      }
    });
    child.once('exit', (code) => reject(new Error(`libmodbus RTU slave exited (${code}) before it was ready`)));
  });
  return {
    writes,
    close: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
