// CSV records cut straight from a split's bytes (RFC 4180: a quoted field may hold commas,
// quotes written "" and line breaks; lines end in LF or CRLF; a UTF-8 BOM before the header is
// skipped). The cursor only finds where each field of a record lies; a field becomes a string
// or a number when it is asked for. A job that declares the columns it reads (job.ts:
// `columns`) therefore pays for those fields alone: an integer is parsed from its digits in
// place, and a string field is interned (the same bytes give the same string, so a repeated
// group key costs a hash of a few bytes instead of a new string, and a Map finds it by the
// hash the string already carries). DuckDB goes further and parses into typed column vectors;
// a row at a time is what a job's `map` takes.

const LF = 10;
const CR = 13;
const QUOTE = 34;
const COMMA = 44;
const PLUS = 43;
const MINUS = 45;
const ZERO = 48;
const NINE = 57;
const FIRST_NON_ASCII = 128;
const BOM = [0xef, 0xbb, 0xbf] as const;

/**
 * A quoted field may run over line breaks, but its record may not grow past this: an
 * unbalanced quote then makes its first line malformed instead of swallowing the split.
 */
export const RECORD_BYTES_MAX = 1024 * 1024;
/** Digits an integer parsed in place may have (more could pass 2^53; those go through Number). */
const FAST_DIGITS_MAX = 15;

const UNBALANCED = 'not CSV (unbalanced quotes)';

/** What `next` found: a record, a blank line (skipped by readers), a malformed record, the end. */
export type CsvStep = 'record' | 'blank' | 'malformed' | 'end';

export class CsvCursor {
  /** Field i of the current record is bytes [starts[i], ends[i]) (inside its quotes, if quoted). */
  starts = new Int32Array(16);
  ends = new Int32Array(16);
  /** 1 when field i was quoted and holds a "" to unescape. */
  escaped = new Uint8Array(16);
  /** Fields in the current record. */
  count = 0;
  /** The line the current record starts on, counted from the buffer's first line. */
  lineIndex = 0;
  /** Why the current record is malformed ('malformed' steps only). */
  reason = '';
  private pos: number;
  private line = 0;
  private recordStart = 0;

  constructor(readonly bytes: Buffer) {
    const bom = bytes.length >= 3 && bytes[0] === BOM[0] && bytes[1] === BOM[1] && bytes[2] === BOM[2];
    this.pos = bom ? 3 : 0;
  }

  /** Moves to the next record. */
  next(): CsvStep {
    const bytes = this.bytes;
    const length = bytes.length;
    let pos = this.pos;
    if (pos >= length) return 'end';
    this.recordStart = pos;
    this.lineIndex = this.line;
    let count = 0;
    let breaks = 0;
    for (;;) {
      if (count === this.starts.length) this.grow();
      let end: number;
      if (pos < length && bytes[pos] === QUOTE) {
        const start = pos + 1;
        let escaped = 0;
        for (let at = start; ; ) {
          const quote = bytes.indexOf(QUOTE, at);
          if (quote < 0 || quote - this.recordStart > RECORD_BYTES_MAX)
            return this.malformed(UNBALANCED, length);
          if (bytes[quote + 1] === QUOTE) {
            escaped = 1;
            at = quote + 2;
            continue;
          }
          for (let lf = bytes.indexOf(LF, start); lf >= 0 && lf < quote; lf = bytes.indexOf(LF, lf + 1))
            breaks++;
          this.starts[count] = start;
          this.ends[count] = quote;
          this.escaped[count] = escaped;
          pos = quote + 1;
          break;
        }
        if (pos < length && bytes[pos] === CR && (pos + 1 === length || bytes[pos + 1] === LF)) pos++;
        if (pos < length && bytes[pos] !== COMMA && bytes[pos] !== LF)
          return this.malformed('not CSV (text after a closing quote)', pos);
      } else {
        const start = pos;
        let b = 0;
        while (pos < length) {
          b = bytes[pos]!;
          if (b === COMMA || b === LF || b === QUOTE) break;
          pos++;
        }
        if (pos < length && b === QUOTE)
          return this.malformed('not CSV (a quote inside an unquoted field)', pos);
        end = pos;
        if (end > start && bytes[end - 1] === CR && (pos === length || b === LF)) end--;
        this.starts[count] = start;
        this.ends[count] = end;
        this.escaped[count] = 0;
      }
      count++;
      if (pos >= length) break;
      if (bytes[pos++] === LF) break;
    }
    this.pos = pos;
    this.line += 1 + breaks;
    this.count = count;
    if (count === 1 && this.escaped[0] === 0 && this.isBlankField()) return 'blank';
    return 'record';
  }

  /** The current record's first line as text ($raw of a malformed record). */
  firstLine(): string {
    let end = this.bytes.indexOf(LF, this.recordStart);
    if (end < 0) end = this.bytes.length;
    if (end > this.recordStart && this.bytes[end - 1] === CR) end--;
    return this.bytes.toString('utf8', this.recordStart, end);
  }

  /** Field i as a string. */
  string(i: number): string {
    const text = this.bytes.toString('utf8', this.starts[i], this.ends[i]);
    return this.escaped[i] === 1 ? text.replaceAll('""', '"') : text;
  }

  /**
   * Field i as an integer: what Number() makes of its text when that is a safe integer, null
   * when the field is empty, undefined when it is not an integer. Plain digits are parsed in
   * place; anything else (spaces, '1e3', '0x10') goes through Number as the row path's jobs did.
   */
  integer(i: number): number | null | undefined {
    const bytes = this.bytes;
    let pos = this.starts[i]!;
    const end = this.ends[i]!;
    if (pos === end) return null;
    const negative = bytes[pos] === MINUS;
    if (negative || bytes[pos] === PLUS) pos++;
    let n = 0;
    if (end > pos && end - pos <= FAST_DIGITS_MAX) {
      for (; pos < end; pos++) {
        const b = bytes[pos]!;
        if (b < ZERO || b > NINE) break;
        n = n * 10 + (b - ZERO);
      }
      if (pos === end) return negative ? -n : n;
    }
    const value = Number(this.string(i));
    return Number.isSafeInteger(value) ? value : undefined;
  }

  /** Field i as a number (Number() of its text): null when empty, undefined when not a number. */
  number(i: number): number | null | undefined {
    if (this.starts[i] === this.ends[i]) return null;
    const value = Number(this.string(i));
    return Number.isNaN(value) ? undefined : value;
  }

  /** The current record is malformed at byte `at`. */
  private malformed(reason: string, at: number): CsvStep {
    // Reported as the record's first line; reading resumes on the next line, as a line reader
    // would. Found past that line, the fault is the first line's quote that never closed on it.
    const lf = this.bytes.indexOf(LF, this.recordStart);
    this.pos = lf < 0 ? this.bytes.length : lf + 1;
    this.line = this.lineIndex + 1;
    this.reason = lf >= 0 && at > lf ? UNBALANCED : reason;
    return 'malformed';
  }

  /** line.trim() === '' for the record's only field. */
  private isBlankField(): boolean {
    const start = this.starts[0]!;
    const end = this.ends[0]!;
    for (let at = start; at < end; at++) {
      const b = this.bytes[at]!;
      if (b >= FIRST_NON_ASCII) return this.string(0).trim() === '';
      if (b !== 32 && (b < 9 || b > 13)) return false;
    }
    return true;
  }

  private grow(): void {
    const size = this.starts.length * 2;
    const starts = new Int32Array(size);
    const ends = new Int32Array(size);
    const escaped = new Uint8Array(size);
    starts.set(this.starts);
    ends.set(this.ends);
    escaped.set(this.escaped);
    this.starts = starts;
    this.ends = ends;
    this.escaped = escaped;
  }
}

/** Distinct strings an interner keeps; past it, fields are decoded afresh (a column of ids). */
export const INTERNED_MAX = 1 << 16;
/** Longer fields are not interned. */
export const INTERNED_BYTES_MAX = 64;
/** Slots a new table starts with; it doubles when half full, up to 2 × INTERNED_MAX. */
const SLOTS_INITIAL = 1024;
const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;
/** Int32s per entry in `meta`: hash, offset in `store`, length. */
const META = 3;

/**
 * Strings by their bytes: an open-addressing table (FNV-1a hash, linear probing) from a field's
 * bytes to the string decoded from them the first time. Sized to the keys it holds and with an
 * entry's hash, offset and length side by side: a table sized for INTERNED_MAX from the start
 * spread 10,000 keys over 1.5 MiB of arrays, and most lookups missed the CPU's caches.
 */
export class Interner {
  private slots = new Int32Array(SLOTS_INITIAL).fill(-1);
  private meta = new Int32Array(SLOTS_INITIAL * META);
  private readonly strings: string[] = [];
  private store = new Uint8Array(16 * 1024);
  private stored = 0;

  /** Field i of the cursor's record as a string, the same one every time its bytes recur. */
  field(cursor: CsvCursor, i: number): string {
    const bytes = cursor.bytes;
    const start = cursor.starts[i]!;
    const end = cursor.ends[i]!;
    const length = end - start;
    if (length > INTERNED_BYTES_MAX) return cursor.string(i);
    let hash = FNV_OFFSET;
    for (let at = start; at < end; at++) hash = Math.imul(hash ^ bytes[at]!, FNV_PRIME);
    const slots = this.slots;
    const mask = slots.length - 1;
    const meta = this.meta;
    let slot = hash & mask;
    for (; ; slot = (slot + 1) & mask) {
      const entry = slots[slot]!;
      if (entry < 0) break;
      const m = entry * META;
      if (meta[m] === hash && meta[m + 2] === length && this.same(meta[m + 1]!, bytes, start, length))
        return this.strings[entry]!;
    }
    const text = cursor.string(i);
    if (this.strings.length >= INTERNED_MAX) return text;
    this.add(hash, bytes, start, length, text);
    return text;
  }

  private add(hash: number, bytes: Buffer, start: number, length: number, text: string): void {
    const entry = this.strings.length;
    if (2 * (entry + 1) > this.slots.length) this.grow();
    if (this.stored + length > this.store.length) {
      const store = new Uint8Array(2 * (this.store.length + length));
      store.set(this.store);
      this.store = store;
    }
    this.store.set(bytes.subarray(start, start + length), this.stored);
    const m = entry * META;
    this.meta[m] = hash;
    this.meta[m + 1] = this.stored;
    this.meta[m + 2] = length;
    this.stored += length;
    this.strings.push(text);
    this.place(hash, entry);
  }

  private place(hash: number, entry: number): void {
    const mask = this.slots.length - 1;
    let slot = hash & mask;
    while (this.slots[slot]! >= 0) slot = (slot + 1) & mask;
    this.slots[slot] = entry;
  }

  private grow(): void {
    this.slots = new Int32Array(this.slots.length * 2).fill(-1);
    const meta = new Int32Array(this.slots.length * META);
    meta.set(this.meta);
    this.meta = meta;
    for (let entry = 0; entry < this.strings.length; entry++) this.place(meta[entry * META]!, entry);
  }

  private same(offset: number, bytes: Buffer, start: number, length: number): boolean {
    const store = this.store;
    for (let k = 0; k < length; k++) if (store[offset + k] !== bytes[start + k]) return false;
    return true;
  }
}
