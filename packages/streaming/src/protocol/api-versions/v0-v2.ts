// ApiVersions (key 18), versions 0 to 2: which APIs and versions this broker speaks (KIP-35).
//
//   ApiVersions Request (v0-v2) => (empty)
//   ApiVersions Response v0 => error_code:INT16 [api_keys]
//     api_keys => api_key:INT16 min_version:INT16 max_version:INT16
//   ApiVersions Response v1-v2 => error_code [api_keys] throttle_time_ms:INT32
//
// A client sends its newest ApiVersions first. When the broker does not know that version it
// still answers, in the v0 layout, with UNSUPPORTED_VERSION and its list, so the client can
// retry with a version both know.
import type { Reader } from '../../core/wire/reader.js';
import type { Writer } from '../../core/wire/writer.js';

export interface ApiVersionsResponse {
  errorCode: number;
  apiKeys: { apiKey: number; minVersion: number; maxVersion: number }[];
}

export function decodeApiVersionsRequest(_r: Reader): Record<string, never> {
  // v0-v2 carry no fields; trailing bytes of a newer version's body are ignored on purpose.
  return {};
}

export function encodeApiVersionsResponse(w: Writer, version: number, res: ApiVersionsResponse): void {
  w.int16(res.errorCode);
  w.array(res.apiKeys, (w, k) => w.int16(k.apiKey).int16(k.minVersion).int16(k.maxVersion));
  if (version >= 1) w.int32(0);
}
