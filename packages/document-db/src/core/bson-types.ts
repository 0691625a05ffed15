// BSON type numbers (the BSON spec's element types; `$type` and `bsonType` name them by number or
// alias): which number a JavaScript value would be written with.
import { bsonTag, isDate } from './values.js';

export const TYPE_ALIASES: Record<string, number> = {
  double: 1,
  string: 2,
  object: 3,
  array: 4,
  binData: 5,
  undefined: 6,
  objectId: 7,
  bool: 8,
  date: 9,
  null: 10,
  regex: 11,
  javascript: 13,
  symbol: 14,
  int: 16,
  timestamp: 17,
  long: 18,
  decimal: 19,
  minKey: -1,
  maxKey: 127,
};
const INT32_MAX = 2 ** 31 - 1;
const INT32_MIN = -(2 ** 31);

/** The BSON type number a value would be serialized with (bson writes integral numbers in int32 range as int32). */
export function bsonTypeNumber(value: unknown): number {
  if (value === null) return 10;
  if (value === undefined) return 6;
  if (typeof value === 'number') {
    return Number.isInteger(value) && value >= INT32_MIN && value <= INT32_MAX ? 16 : 1;
  }
  if (typeof value === 'string') return 2;
  if (typeof value === 'boolean') return 8;
  if (typeof value === 'bigint') return 18;
  if (Array.isArray(value)) return 4;
  if (isDate(value)) return 9;
  if (value instanceof RegExp) return 11;
  const tag = bsonTag(value);
  const byTag: Record<string, number> = {
    ObjectId: 7,
    Binary: 5,
    Long: 18,
    Int32: 16,
    Double: 1,
    Decimal128: 19,
    Timestamp: 17,
    MinKey: -1,
    MaxKey: 127,
    BSONRegExp: 11,
    BSONSymbol: 14,
    Code: 13,
  };
  return tag === undefined ? 3 : (byTag[tag] ?? 3);
}
