// The example record of DDIA chapter 4 (Example 4-1) and its schema in each IDL the chapter
// shows: Thrift (Example 4-2), Protocol Buffers (Example 4-3) and Avro (Example 4-4/4-5).

export interface Person {
  userName: string;
  favoriteNumber: number | null;
  interests: string[];
}

export const BOOK_RECORD: Person = {
  userName: 'Martin',
  favoriteNumber: 1337,
  interests: ['daydreaming', 'hacking'],
};

/** Bytes per format as printed in the book (Figures 4-1 to 4-4 and the text around them). */
export const BOOK_BYTES = {
  json: 81,
  msgpack: 66,
  'thrift-binary': 59,
  'thrift-compact': 34,
  protobuf: 33,
  avro: 32,
} as const;

export type FormatName = keyof typeof BOOK_BYTES;
export const FORMATS = Object.keys(BOOK_BYTES) as FormatName[];

/** Thrift IDL (Example 4-2); `thrift-codec.ts` makes the calls generated code would make. */
export const THRIFT_IDL = `struct Person {
  1: required string       userName,
  2: optional i64          favoriteNumber,
  3: optional list<string> interests
}`;

/** Protocol Buffers IDL (Example 4-3), in proto2 as in the book. */
export const PERSON_PROTO = `syntax = "proto2";
message Person {
  required string user_name       = 1;
  optional int64  favorite_number = 2;
  repeated string interests       = 3;
}`;

/** Avro schema (Example 4-5, the JSON form of the IDL in Example 4-4). */
export const PERSON_AVRO = {
  type: 'record',
  name: 'Person',
  fields: [
    { name: 'userName', type: 'string' },
    { name: 'favoriteNumber', type: ['null', 'long'], default: null },
    { name: 'interests', type: { type: 'array', items: 'string' } },
  ],
};
