// Writes the Kafka protocol's primitive types into a growing buffer (responses, and requests
// in tests). The mirror of reader.ts.

const TEXT = new TextEncoder();
const INITIAL_BYTES = 256;

export class Writer {
  private buffer = new Uint8Array(INITIAL_BYTES);
  private view = new DataView(this.buffer.buffer);
  private at = 0;

  get length(): number {
    return this.at;
  }

  private room(n: number): number {
    if (this.at + n > this.buffer.length) {
      let size = this.buffer.length * 2;
      while (size < this.at + n) size *= 2;
      const next = new Uint8Array(size);
      next.set(this.buffer.subarray(0, this.at));
      this.buffer = next;
      this.view = new DataView(next.buffer);
    }
    const start = this.at;
    this.at += n;
    return start;
  }

  int8(value: number): this {
    const at = this.room(1);
    this.view.setInt8(at, value);
    return this;
  }

  boolean(value: boolean): this {
    return this.int8(value ? 1 : 0);
  }

  int16(value: number): this {
    const at = this.room(2);
    this.view.setInt16(at, value);
    return this;
  }

  int32(value: number): this {
    const at = this.room(4);
    this.view.setInt32(at, value);
    return this;
  }

  uint32(value: number): this {
    const at = this.room(4);
    this.view.setUint32(at, value);
    return this;
  }

  int64(value: number): this {
    const at = this.room(8);
    this.view.setBigInt64(at, BigInt(value));
    return this;
  }

  nullableString(value: string | null): this {
    if (value === null) return this.int16(-1);
    const bytes = TEXT.encode(value);
    this.int16(bytes.length);
    return this.raw(bytes);
  }

  string(value: string): this {
    return this.nullableString(value);
  }

  nullableBytes(value: Uint8Array | null): this {
    if (value === null) return this.int32(-1);
    this.int32(value.length);
    return this.raw(value);
  }

  /** Concatenated chunks as one int32-length bytes field (a fetch's record batches). */
  bytesChunks(chunks: readonly Uint8Array[]): this {
    let total = 0;
    for (const c of chunks) total += c.length;
    this.int32(total);
    for (const c of chunks) this.raw(c);
    return this;
  }

  array<T>(items: readonly T[], element: (w: Writer, item: T) => void): this {
    this.int32(items.length);
    for (const item of items) element(this, item);
    return this;
  }

  nullableArray<T>(items: readonly T[] | null, element: (w: Writer, item: T) => void): this {
    if (items === null) return this.int32(-1);
    return this.array(items, element);
  }

  raw(bytes: Uint8Array): this {
    const at = this.room(bytes.length);
    this.buffer.set(bytes, at);
    return this;
  }

  /** Overwrites an int32 written earlier (a length prefix known only at the end). */
  patchInt32(at: number, value: number): void {
    this.view.setInt32(at, value);
  }

  bytes(): Uint8Array {
    return this.buffer.subarray(0, this.at);
  }
}
