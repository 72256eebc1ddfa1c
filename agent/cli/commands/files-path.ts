import type { FilesPathStats } from '../../core/agent-stats.js';

/** One line for the files path (backlog as IoT Hub file uploads), for `status` and `buffer`. */
export function filesPathLine(f: FilesPathStats): string {
  if (!f.enabled && f.files === 0) return 'off';
  const kb = (f.bytesUploaded / 1024).toFixed(0);
  const reserved = f.reservedBelow > 0 ? `, draining seqs below ${f.reservedBelow}` : '';
  return `${f.files} files, ${f.records} records, ${kb} KiB gzip, ${f.unitsBilled} billed units, ${f.failures} failures${reserved}`;
}
