// The frame around every request and response (non-flexible versions only: no tagged fields).
//
//   Request  => size:INT32 request_header body
//   request_header (v1) => api_key:INT16 api_version:INT16 correlation_id:INT32 client_id:NULLABLE_STRING
//   Response => size:INT32 correlation_id:INT32 body
//
// The size counts the bytes after itself. A client may pipeline requests on one connection;
// responses come back in request order, matched by correlation_id.
import { Reader } from '../core/wire/reader.js';
import { Writer } from '../core/wire/writer.js';

export const SIZE_PREFIX_BYTES = 4;

export interface RequestHeader {
  apiKey: number;
  apiVersion: number;
  correlationId: number;
  clientId: string | null;
}

/** Reads the header of a frame (size prefix already removed); the reader is left at the body. */
export function decodeRequestHeader(frame: Uint8Array): { header: RequestHeader; body: Reader } {
  const reader = new Reader(frame);
  const header = {
    apiKey: reader.int16(),
    apiVersion: reader.int16(),
    correlationId: reader.int32(),
    clientId: reader.nullableString(),
  };
  return { header, body: reader };
}

/** A whole response frame: size, correlation id, body. */
export function frameResponse(correlationId: number, body: Uint8Array): Uint8Array {
  const w = new Writer();
  w.int32(4 + body.length)
    .int32(correlationId)
    .raw(body);
  return w.bytes();
}

/** A whole request frame (tests, and the fixtures' round trip). */
export function frameRequest(header: RequestHeader, body: Uint8Array): Uint8Array {
  const w = new Writer();
  w.int32(0).int16(header.apiKey).int16(header.apiVersion).int32(header.correlationId);
  w.nullableString(header.clientId).raw(body);
  w.patchInt32(0, w.length - SIZE_PREFIX_BYTES);
  return w.bytes();
}
