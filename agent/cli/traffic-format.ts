import type { TrafficFigures, TrafficTable } from '../core/traffic-meter.js';
import { RECORD_CLASSES } from '../core/wire.js';
import { bytes } from './format.js';

/**
 * `status`/`buffer` lines: billed units and bytes per path (messages, files) and class, since start
 * and today (UTC). A file's bytes are its gzip body, its units the 2 messages IoT Hub bills for it.
 */
export function trafficFields(traffic: TrafficFigures | undefined): Array<[string, string]> {
  if (!traffic) return [];
  const today = traffic.days[traffic.days.length - 1];
  return [
    ['billed since start', table(traffic.sinceStart)],
    ...(today ? ([[`billed ${today.day} (UTC)`, table(today.traffic)]] as Array<[string, string]>) : []),
  ];
}

function table(t: TrafficTable): string {
  const paths = Object.entries(t);
  if (paths.length === 0) return 'nothing yet';
  return paths
    .map(([path, byClass]) => {
      const cells = RECORD_CLASSES.flatMap((c) => {
        const cell = byClass[c];
        return cell ? [`${c} ${cell.units} units / ${bytes(cell.bytes)} (${cell.sends} ${path === 'files' ? 'files' : 'messages'}, ${cell.records} records)`] : [];
      });
      return `${path}: ${cells.join(', ')}`;
    })
    .join('; ');
}
