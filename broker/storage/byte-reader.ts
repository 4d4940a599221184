// Bounds-checked reading of the drivers' binary encodings (record-codec.ts, s3-codec.ts): fixed
// width numbers and u32-length-prefixed bytes and strings, each read failing with the caller's
// own corruption error instead of reading past the end.

export class ByteReader {
  protected pos = 0;

  constructor(
    protected readonly buf: Buffer,
    /** The error to throw for a value that does not add up (names the object being read). */
    private readonly corrupt: (reason: string) => Error,
    /** Copy byte fields out, so they do not pin the whole buffer read from the store. */
    private readonly copyBytes: boolean,
  ) {}

  protected fail(reason: string): never {
    throw this.corrupt(reason);
  }

  private need(n: number): void {
    if (this.pos + n > this.buf.length) this.fail(`truncated at byte ${this.pos}`);
  }

  u8(): number {
    this.need(1);
    return this.buf[this.pos++]!;
  }

  u16(): number {
    this.need(2);
    const v = this.buf.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }

  u32(): number {
    this.need(4);
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  f64(): number {
    this.need(8);
    const v = this.buf.readDoubleBE(this.pos);
    this.pos += 8;
    return v;
  }

  bytes(): Buffer {
    const len = this.u32();
    this.need(len);
    const view = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return this.copyBytes ? Buffer.from(view) : view;
  }

  str(): string {
    const len = this.u32();
    this.need(len);
    const s = this.buf.toString('utf8', this.pos, this.pos + len);
    this.pos += len;
    return s;
  }

  end(): void {
    if (this.pos !== this.buf.length) this.fail(`${this.buf.length - this.pos} trailing bytes`);
  }
}
