// Records of the head's write-ahead log (framed and checksummed by common's Log; FORMAT.md):
//   SERIES  : u8 1, varint id, varint label count, then (varint len, utf-8) name and value pairs
//   SAMPLES : u8 2, varint count, then per sample varint id, f64 timestamp ms, f64 value
// A staleness marker's value is written as Prometheus's bit pattern 0x7ff0000000000002 from
// the sample's `stale` flag and recognized from the raw bits (special-values.ts).
// A scrape's samples go in one SAMPLES record, so a scrape is replayed whole or not at all.
import { encodeVarint, readVarint } from '@ddia/common/core';
import type { Labels } from './labels.js';
import { isStaleBits, STALE_NAN_HI, STALE_NAN_LO } from './special-values.js';

export const WAL_SERIES = 1;
export const WAL_SAMPLES = 2;

export interface WalSample {
  id: number;
  t: number;
  value: number;
  stale?: boolean;
}

export type WalRecord =
  | { kind: 'series'; id: number; labels: Labels }
  | { kind: 'samples'; samples: WalSample[] };

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeSeriesRecord(id: number, labels: Labels): Uint8Array {
  const parts: Uint8Array[] = [Uint8Array.of(WAL_SERIES), encodeVarint(id), encodeVarint(labels.length)];
  for (const [name, value] of labels) {
    for (const text of [name, value]) {
      const bytes = encoder.encode(text);
      parts.push(encodeVarint(bytes.length), bytes);
    }
  }
  return concat(parts);
}

export function encodeSamplesRecord(samples: readonly WalSample[]): Uint8Array {
  const head = concat([Uint8Array.of(WAL_SAMPLES), encodeVarint(samples.length)]);
  const out = new Uint8Array(head.length + samples.length * (8 + 16));
  out.set(head);
  const view = new DataView(out.buffer);
  let at = head.length;
  for (const s of samples) {
    const id = encodeVarint(s.id);
    out.set(id, at);
    at += id.length;
    view.setFloat64(at, s.t);
    if (s.stale) {
      view.setUint32(at + 8, STALE_NAN_HI);
      view.setUint32(at + 12, STALE_NAN_LO);
    } else view.setFloat64(at + 8, s.value);
    at += 16;
  }
  return out.slice(0, at);
}

export function decodeWalRecord(bytes: Uint8Array): WalRecord {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes[0] === WAL_SERIES) {
    let r = readVarint(bytes, 1);
    const id = r.value;
    r = readVarint(bytes, r.next);
    const count = r.value;
    let at = r.next;
    const labels: [string, string][] = [];
    for (let i = 0; i < count; i++) {
      const pair: string[] = [];
      for (let j = 0; j < 2; j++) {
        const len = readVarint(bytes, at);
        pair.push(decoder.decode(bytes.subarray(len.next, len.next + len.value)));
        at = len.next + len.value;
      }
      labels.push([pair[0]!, pair[1]!]);
    }
    return { kind: 'series', id, labels };
  }
  if (bytes[0] === WAL_SAMPLES) {
    const r = readVarint(bytes, 1);
    let at = r.next;
    const samples: WalSample[] = [];
    for (let i = 0; i < r.value; i++) {
      const id = readVarint(bytes, at);
      at = id.next;
      const t = view.getFloat64(at);
      if (isStaleBits(view.getUint32(at + 8), view.getUint32(at + 12))) {
        samples.push({ id: id.value, t, value: Number.NaN, stale: true });
      } else samples.push({ id: id.value, t, value: view.getFloat64(at + 8) });
      at += 16;
    }
    return { kind: 'samples', samples };
  }
  throw new Error(`unknown WAL record type ${bytes[0]}`);
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
