import type { Handler } from './handler.js';
import { buffer } from './buffer.js';
import { config } from './config.js';
import { logLevel } from './log-level.js';
import { logs } from './logs.js';
import { sendTest } from './send-test.js';
import { sensors } from './sensors.js';
import { status } from './status.js';
import { twin } from './twin.js';

export const handlers: Record<string, Handler> = {
  status,
  sensors,
  buffer,
  config,
  twin,
  logs,
  'log-level': logLevel,
  'send-test': sendTest,
};
