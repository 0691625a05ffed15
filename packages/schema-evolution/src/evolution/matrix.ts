// Schema evolution made executable (DDIA ch. 4, "Field tags and schema evolution", "Schema
// evolution rules"). Each change is applied to a small schema in Avro, Protocol Buffers and
// JSON; data written with the old schema is read with the new one (backward compatibility:
// new code reads old data) and data written with the new schema is read with the old one
// (forward compatibility: old code reads new data). Every cell is the outcome of a real round
// trip through the library, not a table typed in by hand.
import avro from 'avsc';
import protobuf from 'protobufjs';

export type Outcome = 'ok' | 'lossy' | 'fail';
export interface Cell {
  outcome: Outcome;
  /** What the reader saw, or why it failed. */
  detail: string;
}
export type Direction = 'backward' | 'forward';
export type EvolutionFormat = 'avro' | 'protobuf' | 'json';

type Value = Record<string, unknown>;

/** One format's view of a change: old and new schema, a value each writer writes. */
interface Variant {
  oldSchema: unknown;
  newSchema: unknown;
  oldValue: Value;
  newValue: Value;
  /** Returns false when the reader got a value but not the writer's meaning (silent loss). */
  faithful?: (decoded: Value, written: Value, direction: Direction) => boolean;
}

export interface Change {
  name: string;
  avro: Variant;
  protobuf: Variant;
  json: Variant;
}

// ---- JSON: no schema on the wire; compatibility is whatever the reading code tolerates. ----
// We model typical reading code: required fields must be present, known fields are type-checked,
// optional fields fall back to a default, unknown fields are ignored (a tolerant reader).
interface JsonField {
  type: 'string' | 'number' | 'null' | readonly ('string' | 'number' | 'null')[];
  required?: boolean;
  default?: unknown;
  symbols?: readonly string[];
}
type JsonReader = Record<string, JsonField>;

export class JsonReadError extends Error {
  override name = 'JsonReadError';
}

function jsonRead(reader: JsonReader, bytes: Uint8Array): Value {
  const input = JSON.parse(Buffer.from(bytes).toString('utf8')) as Value;
  const out: Value = {};
  for (const [name, field] of Object.entries(reader)) {
    if (!(name in input)) {
      if (field.required) throw new JsonReadError(`required field '${name}' is missing`);
      out[name] = field.default;
      continue;
    }
    const value = input[name];
    const kinds = Array.isArray(field.type) ? field.type : [field.type];
    const kind = value === null ? 'null' : typeof value;
    if (!kinds.includes(kind as never))
      throw new JsonReadError(`field '${name}' is a ${kind}, expected ${kinds.join('|')}`);
    if (field.symbols && !field.symbols.includes(value as string)) {
      throw new JsonReadError(`field '${name}' has unknown symbol '${String(value)}'`);
    }
    out[name] = value;
  }
  return out;
}

// ---- round trips ----

function avroTrip(writerSchema: unknown, readerSchema: unknown, value: Value): Value {
  const writer = avro.Type.forSchema(writerSchema as avro.Schema);
  const reader = avro.Type.forSchema(readerSchema as avro.Schema);
  const resolver = reader.createResolver(writer);
  return { ...(reader.fromBuffer(writer.toBuffer(value), resolver) as Value) };
}

/** Parses a .proto text; resolveAll() applies proto2 field rules such as `required`. */
function protoType(text: string): protobuf.Type {
  const root = protobuf.parse(text).root;
  root.resolveAll();
  return root.lookupType('M');
}

function protoTrip(writerProto: unknown, readerProto: unknown, value: Value): Value {
  const writer = protoType(writerProto as string);
  const reader = protoType(readerProto as string);
  const bytes = writer.encode(writer.fromObject(value)).finish();
  const message = reader.decode(bytes);
  return reader.toObject(message, { longs: Number, enums: String, defaults: false, oneofs: true }) as Value;
}

function jsonTrip(_writer: unknown, reader: unknown, value: Value): Value {
  return jsonRead(reader as JsonReader, Buffer.from(JSON.stringify(value)));
}

const TRIPS: Record<EvolutionFormat, (writer: unknown, reader: unknown, value: Value) => Value> = {
  avro: avroTrip,
  protobuf: protoTrip,
  json: jsonTrip,
};

export function runCell(format: EvolutionFormat, variant: Variant, direction: Direction): Cell {
  const [writer, reader, value] =
    direction === 'backward'
      ? [variant.oldSchema, variant.newSchema, variant.oldValue]
      : [variant.newSchema, variant.oldSchema, variant.newValue];
  let decoded: Value;
  try {
    decoded = TRIPS[format](writer, reader, value);
  } catch (err) {
    return { outcome: 'fail', detail: (err as Error).message };
  }
  const faithful = variant.faithful ? variant.faithful(decoded, value, direction) : true;
  return { outcome: faithful ? 'ok' : 'lossy', detail: JSON.stringify(decoded) };
}

// ---- the changes ----

const rec = (fields: unknown[]) => ({ type: 'record', name: 'M', fields });
const proto2 = (body: string) => `syntax = "proto2";\nmessage M {\n${body}\n}`;
const proto3 = (body: string) => `syntax = "proto3";\nmessage M {\n${body}\n}`;
const BIG = 2 ** 33 + 5; // does not fit in 32 bits

export const CHANGES: readonly Change[] = [
  {
    name: 'add field with default',
    avro: {
      oldSchema: rec([{ name: 'a', type: 'string' }]),
      newSchema: rec([
        { name: 'a', type: 'string' },
        { name: 'b', type: 'int', default: 0 },
      ]),
      oldValue: { a: 'x' },
      newValue: { a: 'x', b: 7 },
    },
    protobuf: {
      oldSchema: proto2('optional string a = 1;'),
      newSchema: proto2('optional string a = 1;\noptional int32 b = 2 [default = 0];'),
      oldValue: { a: 'x' },
      newValue: { a: 'x', b: 7 },
    },
    json: {
      oldSchema: { a: { type: 'string', required: true } },
      newSchema: { a: { type: 'string', required: true }, b: { type: 'number', default: 0 } },
      oldValue: { a: 'x' },
      newValue: { a: 'x', b: 7 },
    },
  },
  {
    name: 'add field without default',
    avro: {
      oldSchema: rec([{ name: 'a', type: 'string' }]),
      newSchema: rec([
        { name: 'a', type: 'string' },
        { name: 'b', type: 'int' },
      ]),
      oldValue: { a: 'x' },
      newValue: { a: 'x', b: 7 },
    },
    protobuf: {
      // The book: a new field cannot be `required`, or new code fails on old data.
      oldSchema: proto2('optional string a = 1;'),
      newSchema: proto2('optional string a = 1;\nrequired int32 b = 2;'),
      oldValue: { a: 'x' },
      newValue: { a: 'x', b: 7 },
    },
    json: {
      oldSchema: { a: { type: 'string', required: true } },
      newSchema: { a: { type: 'string', required: true }, b: { type: 'number', required: true } },
      oldValue: { a: 'x' },
      newValue: { a: 'x', b: 7 },
    },
  },
  {
    name: 'remove field (it had a default)',
    avro: {
      oldSchema: rec([
        { name: 'a', type: 'string' },
        { name: 'b', type: 'int', default: 0 },
      ]),
      newSchema: rec([{ name: 'a', type: 'string' }]),
      oldValue: { a: 'x', b: 7 },
      newValue: { a: 'x' },
    },
    protobuf: {
      oldSchema: proto2('optional string a = 1;\noptional int32 b = 2;'),
      newSchema: proto2('optional string a = 1;\nreserved 2;'),
      oldValue: { a: 'x', b: 7 },
      newValue: { a: 'x' },
    },
    json: {
      oldSchema: { a: { type: 'string', required: true }, b: { type: 'number', default: 0 } },
      newSchema: { a: { type: 'string', required: true } },
      oldValue: { a: 'x', b: 7 },
      newValue: { a: 'x' },
    },
  },
  {
    name: 'remove required field (no default)',
    avro: {
      oldSchema: rec([
        { name: 'a', type: 'string' },
        { name: 'b', type: 'int' },
      ]),
      newSchema: rec([{ name: 'a', type: 'string' }]),
      oldValue: { a: 'x', b: 7 },
      newValue: { a: 'x' },
    },
    protobuf: {
      oldSchema: proto2('optional string a = 1;\nrequired int32 b = 2;'),
      newSchema: proto2('optional string a = 1;\nreserved 2;'),
      oldValue: { a: 'x', b: 7 },
      newValue: { a: 'x' },
    },
    json: {
      oldSchema: { a: { type: 'string', required: true }, b: { type: 'number', required: true } },
      newSchema: { a: { type: 'string', required: true } },
      oldValue: { a: 'x', b: 7 },
      newValue: { a: 'x' },
    },
  },
  {
    name: 'rename field (Avro: reader alias)',
    avro: {
      oldSchema: rec([{ name: 'b', type: 'int' }]),
      newSchema: rec([{ name: 'c', type: 'int', aliases: ['b'] }]),
      oldValue: { b: 7 },
      newValue: { c: 7 },
    },
    protobuf: {
      // Only the tag travels; names are for code, so renaming is free.
      oldSchema: proto2('optional int32 b = 2;'),
      newSchema: proto2('optional int32 c = 2;'),
      oldValue: { b: 7 },
      newValue: { c: 7 },
    },
    json: {
      oldSchema: { b: { type: 'number', required: true } },
      newSchema: { c: { type: 'number', required: true } },
      oldValue: { b: 7 },
      newValue: { c: 7 },
    },
  },
  {
    name: 'widen int to long',
    avro: {
      oldSchema: rec([{ name: 'n', type: 'int' }]),
      newSchema: rec([{ name: 'n', type: 'long' }]),
      oldValue: { n: 1337 },
      newValue: { n: BIG },
    },
    protobuf: {
      oldSchema: proto2('optional int32 n = 1;'),
      newSchema: proto2('optional int64 n = 1;'),
      oldValue: { n: 1337 },
      newValue: { n: BIG },
      // An old int32 reader parses the varint and keeps the low 32 bits: no error, wrong number.
      faithful: (decoded, written) => decoded.n === written.n,
    },
    json: {
      oldSchema: { n: { type: 'number', required: true } },
      newSchema: { n: { type: 'number', required: true } },
      oldValue: { n: 1337 },
      newValue: { n: BIG },
    },
  },
  {
    name: 'add union branch',
    avro: {
      oldSchema: rec([{ name: 'v', type: ['null', 'string'] }]),
      newSchema: rec([{ name: 'v', type: ['null', 'string', 'int'] }]),
      oldValue: { v: 'x' },
      newValue: { v: 42 },
    },
    protobuf: {
      oldSchema: proto3('oneof v { string s = 1; }'),
      newSchema: proto3('oneof v { string s = 1; int32 i = 2; }'),
      oldValue: { s: 'x' },
      newValue: { i: 42 },
      // The old reader skips the unknown tag: the value silently disappears.
      faithful: (decoded) => decoded.v !== undefined,
    },
    json: {
      oldSchema: { v: { type: ['null', 'string'], required: true } },
      newSchema: { v: { type: ['null', 'string', 'number'], required: true } },
      oldValue: { v: 'x' },
      newValue: { v: 42 },
    },
  },
  {
    name: 'add enum symbol',
    avro: {
      oldSchema: rec([{ name: 'e', type: { type: 'enum', name: 'E', symbols: ['A', 'B'] } }]),
      newSchema: rec([{ name: 'e', type: { type: 'enum', name: 'E', symbols: ['A', 'B', 'C'] } }]),
      oldValue: { e: 'B' },
      newValue: { e: 'C' },
    },
    protobuf: {
      oldSchema: proto3('enum E { A = 0; B = 1; }\nE e = 1;'),
      newSchema: proto3('enum E { A = 0; B = 1; C = 2; }\nE e = 1;'),
      oldValue: { e: 'B' },
      newValue: { e: 'C' },
      // proto3 enums are open: the old reader keeps the bare number 2, which it cannot name.
      faithful: (decoded, written) => decoded.e === written.e,
    },
    json: {
      oldSchema: { e: { type: 'string', required: true, symbols: ['A', 'B'] } },
      newSchema: { e: { type: 'string', required: true, symbols: ['A', 'B', 'C'] } },
      oldValue: { e: 'B' },
      newValue: { e: 'C' },
    },
  },
  {
    name: 'remove enum symbol',
    avro: {
      oldSchema: rec([{ name: 'e', type: { type: 'enum', name: 'E', symbols: ['A', 'B', 'C'] } }]),
      newSchema: rec([{ name: 'e', type: { type: 'enum', name: 'E', symbols: ['A', 'B'] } }]),
      oldValue: { e: 'C' },
      newValue: { e: 'B' },
    },
    protobuf: {
      oldSchema: proto3('enum E { A = 0; B = 1; C = 2; }\nE e = 1;'),
      newSchema: proto3('enum E { A = 0; B = 1; reserved 2; }\nE e = 1;'),
      oldValue: { e: 'C' },
      newValue: { e: 'B' },
      faithful: (decoded, written) => decoded.e === written.e,
    },
    json: {
      oldSchema: { e: { type: 'string', required: true, symbols: ['A', 'B', 'C'] } },
      newSchema: { e: { type: 'string', required: true, symbols: ['A', 'B'] } },
      oldValue: { e: 'C' },
      newValue: { e: 'B' },
    },
  },
];

export const EVOLUTION_FORMATS: readonly EvolutionFormat[] = ['avro', 'protobuf', 'json'];

export interface MatrixRow {
  change: string;
  cells: Record<EvolutionFormat, Record<Direction, Cell>>;
}

export function evolutionMatrix(changes: readonly Change[] = CHANGES): MatrixRow[] {
  return changes.map((change) => {
    const cells = {} as MatrixRow['cells'];
    for (const format of EVOLUTION_FORMATS) {
      cells[format] = {
        backward: runCell(format, change[format], 'backward'),
        forward: runCell(format, change[format], 'forward'),
      };
    }
    return { change: change.name, cells };
  });
}

const SYMBOL: Record<Outcome, string> = { ok: 'ok', lossy: 'LOSSY', fail: 'FAIL' };

/** The matrix as a markdown table: old writer -> new reader (bw) and new writer -> old reader (fw). */
export function formatMatrix(rows: readonly MatrixRow[]): string {
  const header = `| change | ${EVOLUTION_FORMATS.map((f) => `${f} bw | ${f} fw`).join(' | ')} |`;
  const rule = `|---|${EVOLUTION_FORMATS.map(() => '---|---').join('|')}|`;
  const lines = rows.map(
    (r) =>
      `| ${r.change} | ${EVOLUTION_FORMATS.map((f) => `${SYMBOL[r.cells[f].backward.outcome]} | ${SYMBOL[r.cells[f].forward.outcome]}`).join(' | ')} |`,
  );
  return [header, rule, ...lines].join('\n');
}
