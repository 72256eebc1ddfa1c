/** What a driver produces: one value of one point of one source device. */
export type PointValue = number | boolean | string | null;

export type Quality = 'good' | 'bad';

export interface Reading {
  /** The source device (a Modbus slave, a serial sensor, a simulator). Default partition key. */
  source: string;
  /** The point's configured name, unique within its source. */
  point: string;
  value: PointValue;
  quality: Quality;
  /** Set when quality is bad: a stable `EDGE_…` code and a human message. */
  error?: { code: string; message: string };
  unit?: string;
  /** Epoch ms at which the driver received the reply or line. */
  receivedAt: number;
  /**
   * Epoch ms the device itself stamped on the value (after the configured clock offset),
   * when it supplies one. Otherwise application time is `receivedAt`.
   */
  deviceTime?: number;
}

/** A reading after the stamp stage: both times of DESIGN §4 are fixed. */
export interface StampedReading extends Reading {
  appTime: number;
  arrivalTime: number;
  /** The configured name of the driver that read it (set by the intake): an input may select by it. */
  driver?: string;
}
