// Reads the Kafka protocol's primitive types (big-endian integers, int16-length strings,
// int32-length bytes, int32-count arrays) from a request body. Every read checks the bounds:
// a short or lying frame throws FrameDecodeError, which the connection answers by closing,
// never by reading past the frame.

export class FrameDecodeError extends Error {
  override name = 'FrameDecodeError';
}

/** The most elements one array in a request may claim (a lying count must not allocate GBs). */
export const ARRAY_ELEMENTS_MAX = 1_000_000;

const TEXT = new TextDecoder('utf-8', { fatal: true });

export class Reader {
  private at = 0;
  private readonly view: DataView;

  constructor(readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get offset(): number {
    return this.at;
  }

  get remaining(): number {
    return this.bytes.length - this.at;
  }

  private need(n: number, what: string): number {
    if (n < 0 || this.at + n > this.bytes.length) {
      throw new FrameDecodeError(`${what} of ${n} bytes runs past the end of the frame at byte ${this.at}`);
    }
    const start = this.at;
    this.at += n;
    return start;
  }

  int8(): number {
    return this.view.getInt8(this.need(1, 'int8'));
  }

  boolean(): boolean {
    return this.int8() !== 0;
  }

  int16(): number {
    return this.view.getInt16(this.need(2, 'int16'));
  }

  int32(): number {
    return this.view.getInt32(this.need(4, 'int32'));
  }

  uint32(): number {
    return this.view.getUint32(this.need(4, 'uint32'));
  }

  /** An int64 as a JS number: offsets, timestamps and producer ids stay far below 2^53. */
  int64(): number {
    const value = this.view.getBigInt64(this.need(8, 'int64'));
    if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) {
      throw new FrameDecodeError(`int64 ${value} is outside the range this broker handles (2^53)`);
    }
    return Number(value);
  }

  nullableString(): string | null {
    const length = this.int16();
    if (length === -1) return null;
    if (length < 0) throw new FrameDecodeError(`string length ${length}`);
    const start = this.need(length, 'string');
    try {
      return TEXT.decode(this.bytes.subarray(start, start + length));
    } catch {
      throw new FrameDecodeError(`string at byte ${start} is not UTF-8`);
    }
  }

  string(): string {
    const value = this.nullableString();
    if (value === null) throw new FrameDecodeError('null where a string is required');
    return value;
  }

  nullableBytes(): Uint8Array | null {
    const length = this.int32();
    if (length === -1) return null;
    if (length < 0) throw new FrameDecodeError(`bytes length ${length}`);
    const start = this.need(length, 'bytes');
    return this.bytes.subarray(start, start + length);
  }

  bytesField(): Uint8Array {
    return this.nullableBytes() ?? new Uint8Array(0);
  }

  nullableArray<T>(element: (r: Reader) => T): T[] | null {
    const count = this.int32();
    if (count === -1) return null;
    if (count < 0 || count > ARRAY_ELEMENTS_MAX || count > this.remaining) {
      throw new FrameDecodeError(`array count ${count} at byte ${this.at - 4}`);
    }
    const out: T[] = [];
    for (let i = 0; i < count; i++) out.push(element(this));
    return out;
  }

  array<T>(element: (r: Reader) => T): T[] {
    return this.nullableArray(element) ?? [];
  }

  /** The request must end here: trailing bytes mean we misread its version. */
  end(): void {
    if (this.remaining !== 0)
      throw new FrameDecodeError(`${this.remaining} unread bytes at the end of the request`);
  }
}
