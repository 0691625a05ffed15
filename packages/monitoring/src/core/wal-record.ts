// Records of the head's write-ahead log (framed and checksummed by common's Log; FORMAT.md):
//   SERIES  : u8 1, varint id, varint label count, then (varint len, utf-8) name and value pairs
//   SAMPLES : u8 2, varint count, then per sample varint id, f64 timestamp ms, f64 value
// A staleness marker's value is written as Prometheus's bit pattern 0x7ff0000000000002 from
// the sample's `stale` flag and recognized from the raw bits (special-values.ts).
// A scrape's samples go in one SAMPLES record, so a scrape is replayed whole or not at all.
import { encodeVarint, readVarint, VARINT_BYTES_MAX, writeVarint } from '@ddia/common/core';
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

/** Bytes of the SAMPLES header: the type byte and the count varint. */
const SAMPLES_HEADER_MAX = 1 + VARINT_BYTES_MAX;
/** Bytes of one sample at most: its id varint, the f64 timestamp and the f64 value. */
const SAMPLE_BYTES_MAX = VARINT_BYTES_MAX + 16;

/**
 * Builds one SAMPLES record sample by sample, straight into one buffer sized for `capacity`
 * samples (ingest writes a scrape this way, with no object per sample).
 */
export class SamplesRecordWriter {
  private readonly body: Uint8Array;
  private readonly view: DataView;
  private at = 0;
  count = 0;

  constructor(capacity: number) {
    this.body = new Uint8Array(capacity * SAMPLE_BYTES_MAX);
    this.view = new DataView(this.body.buffer);
  }

  add(id: number, t: number, value: number, stale: boolean): void {
    this.at = writeVarint(this.body, this.at, id);
    this.view.setFloat64(this.at, t);
    if (stale) {
      this.view.setUint32(this.at + 8, STALE_NAN_HI);
      this.view.setUint32(this.at + 12, STALE_NAN_LO);
    } else this.view.setFloat64(this.at + 8, value);
    this.at += 16;
    this.count++;
  }

  finish(): Uint8Array {
    const out = new Uint8Array(SAMPLES_HEADER_MAX + this.at);
    out[0] = WAL_SAMPLES;
    const start = writeVarint(out, 1, this.count);
    out.set(this.body.subarray(0, this.at), start);
    return out.subarray(0, start + this.at);
  }
}

export function encodeSamplesRecord(samples: readonly WalSample[]): Uint8Array {
  const writer = new SamplesRecordWriter(samples.length);
  for (const s of samples) writer.add(s.id, s.t, s.value, s.stale === true);
  return writer.finish();
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
