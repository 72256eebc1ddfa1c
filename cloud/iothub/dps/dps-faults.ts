/**
 * What a test can make the DPS emulator do wrong, as the real service does it: refuse
 * registrations with a status below 429 (the SDK fails at once), throttle with 429 and a
 * `retry-after` (the SDK waits and asks again), and move a device to another hub when it
 * registers again.
 */
export class DpsFaults {
  private refusal: { status: number; message: string } | undefined;
  private throttles = 0;
  private throttleAfterSeconds = 1;
  /** When true, a registration of an already-assigned device lands on the next hub. */
  moveOnReprovision = false;

  /** Answers every registration with `status` (400, 401, 403, 404) until `accept()`. */
  refuse(status = 401, message = 'enrollment disabled'): void {
    if (!(status >= 400 && status < 429)) throw new TypeError('a refusal is a 4xx status below 429 (429 and above are retried by the SDK: use throttle)');
    this.refusal = { status, message };
  }

  accept(): void {
    this.refusal = undefined;
  }

  /** Answers the next `count` registration requests with 429 and `retry-after: seconds`. */
  throttle(count: number, retryAfterSeconds: number): void {
    this.throttles = count;
    this.throttleAfterSeconds = retryAfterSeconds;
  }

  /** The fault the next registration request meets, consuming a throttle. */
  next(): { status: number; message: string; retryAfterSeconds?: number } | undefined {
    if (this.refusal) return this.refusal;
    if (this.throttles > 0) {
      this.throttles--;
      return { status: 429, message: 'throttled', retryAfterSeconds: this.throttleAfterSeconds };
    }
    return undefined;
  }

  clearAll(): void {
    this.refusal = undefined;
    this.throttles = 0;
    this.moveOnReprovision = false;
  }
}
