// One table from API key to its decoder, handler and encoder: the only place that knows which
// request types the broker serves. The versions are in core/api-keys.ts.

import {
  handleCreateTopics,
  handleDeleteTopics,
  handleDescribeConfigs,
  handleInitProducerId,
} from '../broker/api/admin.js';
import { handleFetch } from '../broker/api/fetch.js';
import {
  handleDescribeGroups,
  handleFindCoordinator,
  handleHeartbeat,
  handleJoinGroup,
  handleLeaveGroup,
  handleListGroups,
  handleOffsetCommit,
  handleOffsetFetch,
  handleSyncGroup,
} from '../broker/api/groups.js';
import { handleListOffsets, handleMetadata } from '../broker/api/metadata.js';
import { handleProduce } from '../broker/api/produce.js';
import type { Broker } from '../broker/broker.js';
import { ApiKey, type ApiKeyValue, ErrorCode, isSupported, SUPPORTED_VERSIONS } from '../core/index.js';
import type { Reader } from '../core/wire/reader.js';
import { Writer } from '../core/wire/writer.js';
import { decodeApiVersionsRequest, encodeApiVersionsResponse } from '../protocol/api-versions/v0-v2.js';
import { decodeCreateTopicsRequest, encodeCreateTopicsResponse } from '../protocol/create-topics/v3.js';
import { decodeDeleteTopicsRequest, encodeDeleteTopicsResponse } from '../protocol/delete-topics/v1.js';
import {
  decodeDescribeConfigsRequest,
  encodeDescribeConfigsResponse,
} from '../protocol/describe-configs/v2.js';
import { decodeDescribeGroupsRequest, encodeDescribeGroupsResponse } from '../protocol/describe-groups/v2.js';
import { decodeFetchRequest, encodeFetchResponse } from '../protocol/fetch/v4-v11.js';
import {
  decodeFindCoordinatorRequest,
  encodeFindCoordinatorResponse,
} from '../protocol/find-coordinator/v0-v2.js';
import type { RequestHeader } from '../protocol/header.js';
import { decodeHeartbeatRequest, encodeHeartbeatResponse } from '../protocol/heartbeat/v0-v3.js';
import {
  decodeInitProducerIdRequest,
  encodeInitProducerIdResponse,
} from '../protocol/init-producer-id/v1.js';
import { decodeJoinGroupRequest, encodeJoinGroupResponse } from '../protocol/join-group/v0-v5.js';
import { decodeLeaveGroupRequest, encodeLeaveGroupResponse } from '../protocol/leave-group/v0-v3.js';
import { decodeListGroupsRequest, encodeListGroupsResponse } from '../protocol/list-groups/v2.js';
import { decodeListOffsetsRequest, encodeListOffsetsResponse } from '../protocol/list-offsets/v1-v3.js';
import { decodeMetadataRequest, encodeMetadataResponse } from '../protocol/metadata/v1-v6.js';
import { decodeOffsetCommitRequest, encodeOffsetCommitResponse } from '../protocol/offset-commit/v2-v5.js';
import { decodeOffsetFetchRequest, encodeOffsetFetchResponse } from '../protocol/offset-fetch/v1-v4.js';
import { decodeProduceRequest, encodeProduceResponse } from '../protocol/produce/v3-v7.js';
import { decodeSyncGroupRequest, encodeSyncGroupResponse } from '../protocol/sync-group/v0-v3.js';

export interface RequestContext {
  header: RequestHeader;
  clientHost: string;
}

interface Api<Req, Res> {
  decode(r: Reader, version: number): Req;
  handle(broker: Broker, req: Req, ctx: RequestContext): Promise<Res | null> | Res | null;
  encode(w: Writer, res: Res, version: number): void;
}

function api<Req, Res>(spec: Api<Req, Res>): Api<unknown, unknown> {
  return spec as Api<unknown, unknown>;
}

function apiVersionsList() {
  return Object.entries(SUPPORTED_VERSIONS).map(([key, range]) => ({
    apiKey: Number(key),
    minVersion: range.min,
    maxVersion: range.max,
  }));
}

const APIS: Record<ApiKeyValue, Api<unknown, unknown>> = {
  [ApiKey.ApiVersions]: api({
    decode: decodeApiVersionsRequest,
    handle: () => ({ errorCode: ErrorCode.NONE, apiKeys: apiVersionsList() }),
    encode: (w, res, version) => encodeApiVersionsResponse(w, version, res),
  }),
  [ApiKey.Metadata]: api({
    decode: decodeMetadataRequest,
    handle: handleMetadata,
    encode: encodeMetadataResponse,
  }),
  [ApiKey.Produce]: api({
    decode: decodeProduceRequest,
    handle: handleProduce,
    encode: encodeProduceResponse,
  }),
  [ApiKey.Fetch]: api({ decode: decodeFetchRequest, handle: handleFetch, encode: encodeFetchResponse }),
  [ApiKey.ListOffsets]: api({
    decode: decodeListOffsetsRequest,
    handle: handleListOffsets,
    encode: encodeListOffsetsResponse,
  }),
  [ApiKey.CreateTopics]: api({
    decode: decodeCreateTopicsRequest,
    handle: handleCreateTopics,
    encode: encodeCreateTopicsResponse,
  }),
  [ApiKey.DeleteTopics]: api({
    decode: decodeDeleteTopicsRequest,
    handle: handleDeleteTopics,
    encode: encodeDeleteTopicsResponse,
  }),
  [ApiKey.DescribeConfigs]: api({
    decode: decodeDescribeConfigsRequest,
    handle: handleDescribeConfigs,
    encode: encodeDescribeConfigsResponse,
  }),
  [ApiKey.InitProducerId]: api({
    decode: decodeInitProducerIdRequest,
    handle: handleInitProducerId,
    encode: encodeInitProducerIdResponse,
  }),
  [ApiKey.FindCoordinator]: api({
    decode: decodeFindCoordinatorRequest,
    handle: handleFindCoordinator,
    encode: encodeFindCoordinatorResponse,
  }),
  [ApiKey.JoinGroup]: api({
    decode: decodeJoinGroupRequest,
    handle: (broker, req, ctx) =>
      handleJoinGroup(broker, req, ctx.header.clientId ?? '', ctx.clientHost, ctx.header.apiVersion),
    encode: encodeJoinGroupResponse,
  }),
  [ApiKey.SyncGroup]: api({
    decode: decodeSyncGroupRequest,
    handle: handleSyncGroup,
    encode: encodeSyncGroupResponse,
  }),
  [ApiKey.Heartbeat]: api({
    decode: decodeHeartbeatRequest,
    handle: handleHeartbeat,
    encode: encodeHeartbeatResponse,
  }),
  [ApiKey.LeaveGroup]: api({
    decode: decodeLeaveGroupRequest,
    handle: handleLeaveGroup,
    encode: encodeLeaveGroupResponse,
  }),
  [ApiKey.OffsetCommit]: api({
    decode: decodeOffsetCommitRequest,
    handle: handleOffsetCommit,
    encode: encodeOffsetCommitResponse,
  }),
  [ApiKey.OffsetFetch]: api({
    decode: decodeOffsetFetchRequest,
    handle: handleOffsetFetch,
    encode: encodeOffsetFetchResponse,
  }),
  [ApiKey.DescribeGroups]: api({
    decode: decodeDescribeGroupsRequest,
    handle: handleDescribeGroups,
    encode: encodeDescribeGroupsResponse,
  }),
  [ApiKey.ListGroups]: api({
    decode: decodeListGroupsRequest,
    handle: (broker) => handleListGroups(broker),
    encode: encodeListGroupsResponse,
  }),
};

/** Why a request cannot be served at all: the connection answers or closes accordingly. */
export type Refusal = { kind: 'unsupported-api-versions' } | { kind: 'unsupported'; reason: string };

export function refusalFor(header: RequestHeader): Refusal | null {
  if (isSupported(header.apiKey, header.apiVersion)) return null;
  if (header.apiKey === ApiKey.ApiVersions) return { kind: 'unsupported-api-versions' };
  return {
    kind: 'unsupported',
    reason: (APIS as Record<number, unknown>)[header.apiKey]
      ? `version ${header.apiVersion} of API ${header.apiKey} is not supported`
      : `API key ${header.apiKey} is not supported`,
  };
}

/**
 * The answer to an ApiVersions request of a version we do not know: v0 layout,
 * UNSUPPORTED_VERSION, and our list, so the client can retry with a version we speak (KIP-511).
 */
export function unsupportedApiVersionsBody(): Uint8Array {
  const w = new Writer();
  encodeApiVersionsResponse(w, 0, { errorCode: ErrorCode.UNSUPPORTED_VERSION, apiKeys: apiVersionsList() });
  return w.bytes();
}

/** Decodes the body of a supported request (fixtures and tests use this directly); by default
 *  as the newest version served. */
export function decodeRequest(
  apiKey: number,
  body: Reader,
  version = SUPPORTED_VERSIONS[apiKey as ApiKeyValue].max,
): unknown {
  return APIS[apiKey as ApiKeyValue].decode(body, version);
}

/** Decodes, serves and encodes one supported request; null when no response is due (acks=0). */
export async function serve(broker: Broker, ctx: RequestContext, body: Reader): Promise<Uint8Array | null> {
  const spec = APIS[ctx.header.apiKey as ApiKeyValue];
  const req = spec.decode(body, ctx.header.apiVersion);
  const res = await spec.handle(broker, req, ctx);
  if (res === null) return null;
  const w = new Writer();
  spec.encode(w, res, ctx.header.apiVersion);
  return w.bytes();
}
