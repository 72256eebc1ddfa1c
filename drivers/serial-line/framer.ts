/**
 * Splits a byte stream into lines at a delimiter (default `\n`; a trailing `\r` is dropped).
 * A line longer than `maxLength` bytes is dropped whole and counted, so a sensor that never
 * sends its delimiter cannot grow the buffer without bound, and the tail of a cut line is
 * never mistaken for a line of its own.
 */
export class LineFramer {
  private buf: Buffer = Buffer.alloc(0);
  private readonly delimiter: Buffer;
  /** Inside a line that is already too long: drop everything up to the next delimiter. */
  private skipping = false;
  /** Lines dropped for being too long. */
  overlong = 0;

  constructor(
    delimiter: string = '\n',
    private readonly maxLength = 4096,
    private readonly encoding: BufferEncoding = 'latin1',
  ) {
    if (delimiter.length === 0) throw new TypeError('line delimiter must not be empty');
    this.delimiter = Buffer.from(delimiter, 'latin1');
  }

  push(chunk: Uint8Array): string[] {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : Buffer.from(chunk);
    const lines: string[] = [];
    for (;;) {
      const at = this.buf.indexOf(this.delimiter);
      if (at < 0) break;
      const raw = this.buf.subarray(0, at);
      this.buf = this.buf.subarray(at + this.delimiter.length);
      if (this.skipping) {
        this.skipping = false;
        continue;
      }
      if (raw.length > this.maxLength) {
        this.overlong++;
        continue;
      }
      const line = raw.toString(this.encoding).replace(/\r$/, '');
      if (line.length) lines.push(line);
    }
    if (this.buf.length > this.maxLength + this.delimiter.length) {
      if (!this.skipping) this.overlong++;
      this.skipping = true;
      // Keep the last bytes: they may be the start of a split delimiter.
      this.buf = Buffer.from(this.buf.subarray(this.buf.length - (this.delimiter.length - 1)));
    }
    return lines;
  }

  /** Bytes held, waiting for a delimiter. */
  get pending(): number {
    return this.buf.length;
  }
}
