// A stored value: varint(version) then the value's bytes (FORMAT.md).
import { encodeVarint, readVarint } from '@ddia/common/core';

export interface StoredValue {
  version: number;
  value: Uint8Array;
}

export function encodeRecord(version: number, value: Uint8Array): Uint8Array {
  const head = encodeVarint(version);
  const out = new Uint8Array(head.length + value.length);
  out.set(head, 0);
  out.set(value, head.length);
  return out;
}

export function decodeRecord(bytes: Uint8Array): StoredValue {
  const { value: version, next } = readVarint(bytes, 0);
  return { version, value: bytes.subarray(next) };
}
