// Annotated hex dumps: each format's bytes walked by hand and labelled, so a reader can see
// which bytes are field tags, type codes, lengths and values (DDIA Figures 4-1 to 4-4). The
// walkers understand exactly the shapes the Person record uses; anything else is reported as
// unannotated rather than guessed.
import type { FormatName } from './book-record.js';

export type SpanKind = 'punct' | 'name' | 'tag' | 'type' | 'length' | 'count' | 'value' | 'union' | 'end';

export interface Span {
  start: number;
  end: number;
  kind: SpanKind;
  note: string;
}

/** Raised when a walker meets bytes it does not expect for the Person record. */
export class AnnotateError extends Error {
  override name = 'AnnotateError';
}

class Cursor {
  pos = 0;
  readonly spans: Span[] = [];
  constructor(readonly bytes: Uint8Array) {}
  get done(): boolean {
    return this.pos >= this.bytes.length;
  }
  peek(): number {
    if (this.done) throw new AnnotateError(`unexpected end at ${this.pos}`);
    return this.bytes[this.pos];
  }
  take(n: number, kind: SpanKind, note: string): Uint8Array {
    if (this.pos + n > this.bytes.length) throw new AnnotateError(`${note}: needs ${n} bytes at ${this.pos}`);
    const out = this.bytes.subarray(this.pos, this.pos + n);
    this.spans.push({ start: this.pos, end: this.pos + n, kind, note });
    this.pos += n;
    return out;
  }
  /** Unsigned LEB128 varint (protobuf, Thrift compact, Avro). */
  varint(kind: SpanKind, note: (v: number) => string): number {
    let value = 0;
    let shift = 0;
    let n = 0;
    for (;;) {
      const b = this.bytes[this.pos + n];
      if (b === undefined) throw new AnnotateError(`truncated varint at ${this.pos}`);
      value += (b & 0x7f) * 2 ** shift;
      shift += 7;
      n++;
      if ((b & 0x80) === 0) break;
    }
    this.take(n, kind, note(value));
    return value;
  }
  zigzag(kind: SpanKind, note: (v: number) => string): number {
    let decoded = 0;
    this.varint(kind, (v) => {
      decoded = v % 2 === 0 ? v / 2 : -(v + 1) / 2;
      return note(decoded);
    });
    return decoded;
  }
}

const text = (b: Uint8Array) => JSON.stringify(Buffer.from(b).toString('utf8'));

function annotateJson(c: Cursor): void {
  const source = Buffer.from(c.bytes).toString('utf8');
  // Character offsets equal byte offsets for the ASCII record; tokens are strings, numbers, punctuation.
  const token = /"(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null|[{}[\]:,]|\s+/gy;
  let expectKey = false;
  const stack: string[] = [];
  while (!c.done) {
    token.lastIndex = c.pos;
    const m = token.exec(source);
    if (!m) throw new AnnotateError(`JSON token expected at ${c.pos}`);
    const t = m[0];
    if (/^\s/.test(t)) c.take(t.length, 'punct', 'whitespace');
    else if (t === '{' || t === '[') {
      stack.push(t);
      expectKey = t === '{';
      c.take(1, 'punct', t === '{' ? 'object start' : 'array start');
    } else if (t === '}' || t === ']') {
      stack.pop();
      c.take(1, 'punct', t === '}' ? 'object end' : 'array end');
    } else if (t === ',') {
      expectKey = stack[stack.length - 1] === '{';
      c.take(1, 'punct', 'separator');
    } else if (t === ':') {
      expectKey = false;
      c.take(1, 'punct', 'key/value separator');
    } else if (expectKey) c.take(t.length, 'name', `field name ${t} (spelled out in every record)`);
    else c.take(t.length, 'value', t.startsWith('"') ? `string ${t}` : `number ${t} as decimal text`);
  }
}

function annotateMsgpack(c: Cursor): void {
  const value = (role: string): void => {
    const b = c.peek();
    if (b >= 0x80 && b <= 0x8f) {
      c.take(1, 'type', `fixmap with ${b & 0x0f} entries`);
      for (let i = 0; i < (b & 0x0f); i++) {
        value('key');
        value('value');
      }
    } else if (b >= 0x90 && b <= 0x9f) {
      c.take(1, 'type', `fixarray with ${b & 0x0f} items`);
      for (let i = 0; i < (b & 0x0f); i++) value('item');
    } else if (b >= 0xa0 && b <= 0xbf) {
      const n = b & 0x1f;
      c.take(1, 'length', `fixstr, length ${n}`);
      const s = c.take(n, role === 'key' ? 'name' : 'value', '');
      c.spans[c.spans.length - 1].note = role === 'key' ? `field name ${text(s)}` : `string ${text(s)}`;
    } else if (b <= 0x7f) c.take(1, 'value', `positive fixint ${b}`);
    else if (b === 0xcc || b === 0xcd || b === 0xce) {
      const n = b === 0xcc ? 1 : b === 0xcd ? 2 : 4;
      c.take(1, 'type', `uint${n * 8}`);
      const v = c.take(n, 'value', '');
      c.spans[c.spans.length - 1].note = `${Buffer.from(v).readUIntBE(0, n)} (big-endian)`;
    } else if (b === 0xc0) c.take(1, 'value', 'nil');
    else throw new AnnotateError(`msgpack byte 0x${b.toString(16)} not used by the Person record`);
  };
  value('root');
}

const THRIFT_FIELD_NAMES: Record<number, string> = { 1: 'userName', 2: 'favoriteNumber', 3: 'interests' };

/** Thrift's stop byte (0) ends a struct: the span just taken becomes its end marker. */
function markStop(c: Cursor): void {
  c.spans[c.spans.length - 1] = { ...c.spans[c.spans.length - 1], kind: 'end', note: 'stop: end of struct' };
}

function annotateThriftBinary(c: Cursor): void {
  for (;;) {
    const type = c.take(1, 'type', '')[0];
    if (type === 0) {
      markStop(c);
      return;
    }
    c.spans[c.spans.length - 1].note =
      `field type ${type} (${{ 11: 'string', 10: 'i64', 15: 'list' }[type] ?? '?'})`;
    const tag = Buffer.from(c.take(2, 'tag', '')).readUInt16BE(0);
    c.spans[c.spans.length - 1].note = `field tag ${tag} (${THRIFT_FIELD_NAMES[tag] ?? 'unknown'})`;
    const str = () => {
      const n = Buffer.from(c.take(4, 'length', '')).readUInt32BE(0);
      c.spans[c.spans.length - 1].note = `length ${n} (4 bytes, big-endian)`;
      c.take(n, 'value', '');
      c.spans[c.spans.length - 1].note = `string ${text(c.bytes.subarray(c.pos - n, c.pos))}`;
    };
    if (type === 11) str();
    else if (type === 10) {
      const v = Buffer.from(c.take(8, 'value', '')).readBigInt64BE(0);
      c.spans[c.spans.length - 1].note = `i64 ${v} (8 bytes, big-endian)`;
    } else if (type === 15) {
      c.take(1, 'type', 'list item type 11 (string)');
      const n = Buffer.from(c.take(4, 'count', '')).readUInt32BE(0);
      c.spans[c.spans.length - 1].note = `list of ${n} items (4 bytes)`;
      for (let i = 0; i < n; i++) str();
    } else throw new AnnotateError(`thrift type ${type} not used by the Person record`);
  }
}

function annotateThriftCompact(c: Cursor): void {
  let lastTag = 0;
  for (;;) {
    const header = c.take(1, 'tag', '')[0];
    if (header === 0) {
      markStop(c);
      return;
    }
    const delta = header >> 4;
    const type = header & 0x0f;
    const tag = lastTag + delta;
    lastTag = tag;
    c.spans[c.spans.length - 1].note =
      `tag delta ${delta} -> tag ${tag} (${THRIFT_FIELD_NAMES[tag] ?? '?'}), type ${type} (${{ 8: 'binary', 6: 'i64', 9: 'list' }[type] ?? '?'}) in one byte`;
    const str = () => {
      const n = c.varint('length', (v) => `length ${v} (varint)`);
      c.take(n, 'value', `string ${text(c.bytes.subarray(c.pos, c.pos + n))}`);
    };
    if (type === 8) str();
    else if (type === 6) c.zigzag('value', (v) => `i64 ${v} (zigzag varint)`);
    else if (type === 9) {
      const h = c.take(1, 'count', '')[0];
      c.spans[c.spans.length - 1].note = `list: ${h >> 4} items of type ${h & 0x0f} (binary) in one byte`;
      for (let i = 0; i < h >> 4; i++) str();
    } else throw new AnnotateError(`compact type ${type} not used by the Person record`);
  }
}

const PROTO_FIELD_NAMES: Record<number, string> = { 1: 'user_name', 2: 'favorite_number', 3: 'interests' };

function annotateProtobuf(c: Cursor): void {
  while (!c.done) {
    let field = 0;
    let wire = 0;
    c.varint('tag', (key) => {
      field = Math.floor(key / 8);
      wire = key % 8;
      return `field tag ${field} (${PROTO_FIELD_NAMES[field] ?? '?'}), wire type ${wire} (${wire === 0 ? 'varint' : wire === 2 ? 'length-delimited' : '?'})`;
    });
    if (wire === 0) c.varint('value', (v) => `varint ${v}`);
    else if (wire === 2) {
      const n = c.varint('length', (v) => `length ${v}`);
      c.take(n, 'value', `string ${text(c.bytes.subarray(c.pos, c.pos + n))}`);
    } else throw new AnnotateError(`wire type ${wire} not used by the Person record`);
  }
}

function annotateAvro(c: Cursor): void {
  // No tags and no type codes: the bytes only make sense alongside the writer's schema.
  const str = (what: string) => {
    const n = c.zigzag('length', (v) => `${what} length ${v} (zigzag varint)`);
    c.take(n, 'value', `${what} ${text(c.bytes.subarray(c.pos, c.pos + n))}`);
  };
  str('userName: string');
  const branch = c.zigzag('union', (v) => `favoriteNumber: union branch ${v} (${v === 0 ? 'null' : 'long'})`);
  if (branch === 1) c.zigzag('value', (v) => `long ${v} (zigzag varint)`);
  for (;;) {
    const count = c.zigzag('count', (v) =>
      v === 0 ? 'interests: end of array' : `interests: block of ${v} items`,
    );
    if (count === 0) {
      c.spans[c.spans.length - 1].kind = 'end';
      break;
    }
    for (let i = 0; i < Math.abs(count); i++) str('item: string');
  }
}

const WALKERS: Record<FormatName, (c: Cursor) => void> = {
  json: annotateJson,
  msgpack: annotateMsgpack,
  'thrift-binary': annotateThriftBinary,
  'thrift-compact': annotateThriftCompact,
  protobuf: annotateProtobuf,
  avro: annotateAvro,
};

/** Labels every byte of a Person record encoded in `format`. */
export function annotate(format: FormatName, bytes: Uint8Array): Span[] {
  const c = new Cursor(bytes);
  WALKERS[format](c);
  if (!c.done) throw new AnnotateError(`${bytes.length - c.pos} bytes left over after the record`);
  return c.spans;
}

/** Bytes per kind, e.g. how many of JSON's 81 bytes are field names. */
export function bytesByKind(spans: readonly Span[]): Partial<Record<SpanKind, number>> {
  const out: Partial<Record<SpanKind, number>> = {};
  for (const s of spans) out[s.kind] = (out[s.kind] ?? 0) + (s.end - s.start);
  return out;
}

const HEX_COLUMN_BYTES = 12;

/** One line per span: offset, hex (wrapped), kind, note. */
export function hexDump(bytes: Uint8Array, spans: readonly Span[]): string {
  const lines: string[] = [];
  for (const s of spans) {
    const hex = Buffer.from(bytes.subarray(s.start, s.end)).toString('hex').replace(/(..)/g, '$1 ').trim();
    const shown = hex.length > HEX_COLUMN_BYTES * 3 ? `${hex.slice(0, HEX_COLUMN_BYTES * 3 - 4)}...` : hex;
    lines.push(
      `${String(s.start).padStart(4)}  ${shown.padEnd(HEX_COLUMN_BYTES * 3)} ${s.kind.padEnd(6)} ${s.note}`,
    );
  }
  return lines.join('\n');
}
