// BSON values as the engine sees them, and MongoDB's comparison order across types.
// Documents arrive deserialized by the `bson` package: plain objects, arrays, numbers, strings,
// booleans, null, Date, RegExp, and bson's classes (ObjectId, Long, Decimal128, Binary,
// Timestamp, MinKey, MaxKey...), which the core recognises by their `_bsontype` tag rather than
// by importing bson: the core stays free of anything but plain JavaScript.

/** A document: field names to values, in insertion order (order matters for equality). */
export type Doc = { [field: string]: unknown };

/**
 * MongoDB's comparison/sort order of BSON types (docs: "Comparison/Sort Order"). Types in the
 * same bracket compare by value (all numeric types are one bracket, symbol and string another).
 */
export const TypeOrder = {
  minKey: 1,
  /** An empty array in a sort key sorts below null (MongoDB's documented rule for sorts). */
  emptyArray: 2,
  null: 3,
  number: 4,
  string: 5,
  object: 6,
  array: 7,
  binary: 8,
  objectId: 9,
  boolean: 10,
  date: 11,
  timestamp: 12,
  regex: 13,
  maxKey: 14,
} as const;

interface Tagged {
  _bsontype: string;
}

export function bsonTag(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const tag = (value as Partial<Tagged>)._bsontype;
  return typeof tag === 'string' ? tag : undefined;
}

export function isDate(value: unknown): value is { getTime(): number; toISOString(): string } {
  return Object.prototype.toString.call(value) === '[object Date]';
}

export function isRegExp(value: unknown): value is RegExp {
  return value instanceof RegExp || bsonTag(value) === 'BSONRegExp';
}

/** A plain document (not an array, not a BSON value class, not a Date or RegExp). */
export function isDoc(value: unknown): value is Doc {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  if (isDate(value) || value instanceof RegExp || bsonTag(value) !== undefined) return false;
  return true;
}

/** The numeric value of any BSON number (double, int32, int64, decimal128), or undefined. */
export function numberOf(value: unknown): number | undefined {
  if (typeof value === 'number') return value;
  if (typeof value === 'bigint') return Number(value);
  const tag = bsonTag(value);
  if (tag === 'Long') return (value as { toNumber(): number }).toNumber();
  if (tag === 'Int32' || tag === 'Double') return (value as { value: number }).value;
  // Decimal128 compares through its double approximation (a documented limit of this engine).
  if (tag === 'Decimal128') return Number.parseFloat(String(value));
  return undefined;
}

export function isNumber(value: unknown): boolean {
  return numberOf(value) !== undefined;
}

export function typeOrder(value: unknown): number {
  if (value === undefined || value === null) return TypeOrder.null;
  switch (typeof value) {
    case 'number':
    case 'bigint':
      return TypeOrder.number;
    case 'string':
      return TypeOrder.string;
    case 'boolean':
      return TypeOrder.boolean;
    case 'object':
      break;
    default:
      return TypeOrder.null;
  }
  if (Array.isArray(value)) return TypeOrder.array;
  if (isDate(value)) return TypeOrder.date;
  if (value instanceof RegExp) return TypeOrder.regex;
  const tag = bsonTag(value);
  // Plain objects, and Code, DBRef and other rarities, compare as documents.
  return (tag === undefined ? undefined : ORDER_OF_TAG.get(tag)) ?? TypeOrder.object;
}

/** The bracket of each bson class by its _bsontype tag (a Map: tags are data, not keys of Object). */
const ORDER_OF_TAG = new Map<string, number>([
  ['Long', TypeOrder.number],
  ['Int32', TypeOrder.number],
  ['Double', TypeOrder.number],
  ['Decimal128', TypeOrder.number],
  ['BSONSymbol', TypeOrder.string],
  ['Binary', TypeOrder.binary],
  ['ObjectId', TypeOrder.objectId],
  ['Timestamp', TypeOrder.timestamp],
  ['BSONRegExp', TypeOrder.regex],
  ['MinKey', TypeOrder.minKey],
  ['MaxKey', TypeOrder.maxKey],
]);

function sign(n: number): -1 | 0 | 1 {
  return n < 0 ? -1 : n > 0 ? 1 : 0;
}

/** Strings compare by Unicode code point (the order of their UTF-8 bytes), as MongoDB's binary comparison does. */
export function compareStrings(a: string, b: string): -1 | 0 | 1 {
  if (a === b) return 0;
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const x = a.codePointAt(i)!;
    const y = b.codePointAt(i)!;
    if (x !== y) return x < y ? -1 : 1;
    if (x > 0xffff) i++;
  }
  return sign(a.length - b.length);
}

function compareNumbers(a: number, b: number): -1 | 0 | 1 {
  // NaN sorts below every other number and equals itself.
  if (Number.isNaN(a)) return Number.isNaN(b) ? 0 : -1;
  if (Number.isNaN(b)) return 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

export function bytesOf(value: unknown): Uint8Array {
  const tag = bsonTag(value);
  if (tag === 'ObjectId') return (value as { id: Uint8Array }).id;
  if (tag === 'Binary') {
    const binary = value as { buffer: Uint8Array; position: number };
    return binary.buffer.subarray(0, binary.position);
  }
  return new Uint8Array(0);
}

function compareBytes(a: Uint8Array, b: Uint8Array): -1 | 0 | 1 {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) if (a[i] !== b[i]) return a[i]! < b[i]! ? -1 : 1;
  return sign(a.length - b.length);
}

export function regexParts(value: unknown): { pattern: string; flags: string } {
  if (value instanceof RegExp) return { pattern: value.source, flags: value.flags };
  const r = value as { pattern: string; options: string };
  return { pattern: r.pattern, flags: r.options };
}

/** MongoDB's total order over BSON values: type bracket first, then value within the bracket. */
export function compareValues(a: unknown, b: unknown): -1 | 0 | 1 {
  const ta = typeOrder(a);
  const tb = typeOrder(b);
  if (ta !== tb) return ta < tb ? -1 : 1;
  switch (ta) {
    case TypeOrder.minKey:
    case TypeOrder.maxKey:
    case TypeOrder.null:
      return 0;
    case TypeOrder.number:
      return compareNumbers(numberOf(a)!, numberOf(b)!);
    case TypeOrder.string:
      return compareStrings(String(a), String(b));
    case TypeOrder.boolean:
      return a === b ? 0 : a ? 1 : -1;
    case TypeOrder.date:
      return compareNumbers((a as { getTime(): number }).getTime(), (b as { getTime(): number }).getTime());
    case TypeOrder.objectId:
      return compareBytes(bytesOf(a), bytesOf(b));
    case TypeOrder.binary: {
      // Binary data: length first, then subtype, then bytes.
      const x = bytesOf(a);
      const y = bytesOf(b);
      if (x.length !== y.length) return x.length < y.length ? -1 : 1;
      const sa = (a as { sub_type: number }).sub_type;
      const sb = (b as { sub_type: number }).sub_type;
      if (sa !== sb) return sa < sb ? -1 : 1;
      return compareBytes(x, y);
    }
    case TypeOrder.timestamp: {
      const x = a as { t: number; i: number };
      const y = b as { t: number; i: number };
      return x.t !== y.t ? sign(x.t - y.t) : sign(x.i - y.i);
    }
    case TypeOrder.regex: {
      const x = regexParts(a);
      const y = regexParts(b);
      return compareStrings(x.pattern, y.pattern) || compareStrings(x.flags, y.flags);
    }
    case TypeOrder.array: {
      const x = a as unknown[];
      const y = b as unknown[];
      const length = Math.min(x.length, y.length);
      for (let i = 0; i < length; i++) {
        const c = compareValues(x[i], y[i]);
        if (c !== 0) return c;
      }
      return sign(x.length - y.length);
    }
    default:
      return compareDocs(a as Doc, b as Doc);
  }
}

/**
 * Documents compare pair by pair in field order: the value's type bracket, then the field
 * name, then the value; a document that runs out of fields first is the smaller.
 */
function compareDocs(a: Doc, b: Doc): -1 | 0 | 1 {
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  const length = Math.min(ka.length, kb.length);
  for (let i = 0; i < length; i++) {
    const va = a[ka[i]!];
    const vb = b[kb[i]!];
    const ta = typeOrder(va);
    const tb = typeOrder(vb);
    if (ta !== tb) return ta < tb ? -1 : 1;
    const names = compareStrings(ka[i]!, kb[i]!);
    if (names !== 0) return names;
    const values = compareValues(va, vb);
    if (values !== 0) return values;
  }
  return sign(ka.length - kb.length);
}

export function valuesEqual(a: unknown, b: unknown): boolean {
  return compareValues(a, b) === 0;
}

/** A deep copy of a document or value; BSON value objects are immutable and shared. */
export function cloneValue<T>(value: T): T {
  if (Array.isArray(value)) return value.map(cloneValue) as T;
  if (isDoc(value)) {
    const copy: Doc = {};
    for (const key of Object.keys(value)) copy[key] = cloneValue(value[key]);
    return copy as T;
  }
  return value;
}

/** Depth of nesting of documents and arrays (a scalar is 0). */
export function nestingDepth(value: unknown, limit: number): number {
  if (!Array.isArray(value) && !isDoc(value)) return 0;
  if (limit <= 0) return 1;
  let deepest = 0;
  const children = Array.isArray(value) ? value : Object.values(value);
  for (const child of children) deepest = Math.max(deepest, nestingDepth(child, limit - 1));
  return 1 + deepest;
}
