// The request types (API keys) this broker speaks, with the one version of each it implements.
//
// A Kafka client picks, per API, the highest version both sides support (KIP-35). kafkajs
// 2.2.4 asks for min(its newest, our max), so implementing kafkajs's newest non-flexible
// version of each API is enough for it; librdkafka 2.0 (kcat) asks for older Metadata and
// ListOffsets versions, served too. librdkafka enables its group consumer only when the
// broker's ranges reach FindCoordinator/JoinGroup/SyncGroup/Heartbeat/LeaveGroup v0,
// OffsetCommit v2 and OffsetFetch v1 (its feature map), so those older layouts are served
// as well. Other versions get UNSUPPORTED_VERSION, honestly.
// Adding a version means adding src/protocol/<api>/v<N>.ts and widening the range here.
export const ApiKey = {
  Produce: 0,
  Fetch: 1,
  ListOffsets: 2,
  Metadata: 3,
  OffsetCommit: 8,
  OffsetFetch: 9,
  FindCoordinator: 10,
  JoinGroup: 11,
  Heartbeat: 12,
  LeaveGroup: 13,
  SyncGroup: 14,
  DescribeGroups: 15,
  ListGroups: 16,
  ApiVersions: 18,
  CreateTopics: 19,
  DeleteTopics: 20,
  InitProducerId: 22,
  DescribeConfigs: 32,
} as const;

export type ApiKeyValue = (typeof ApiKey)[keyof typeof ApiKey];

export interface VersionRange {
  min: number;
  max: number;
}

export const SUPPORTED_VERSIONS: Record<ApiKeyValue, VersionRange> = {
  [ApiKey.Produce]: { min: 3, max: 7 },
  [ApiKey.Fetch]: { min: 4, max: 11 },
  [ApiKey.ListOffsets]: { min: 1, max: 3 },
  [ApiKey.Metadata]: { min: 1, max: 6 },
  [ApiKey.OffsetCommit]: { min: 2, max: 5 },
  [ApiKey.OffsetFetch]: { min: 1, max: 4 },
  [ApiKey.FindCoordinator]: { min: 0, max: 2 },
  [ApiKey.JoinGroup]: { min: 0, max: 5 },
  [ApiKey.Heartbeat]: { min: 0, max: 3 },
  [ApiKey.LeaveGroup]: { min: 0, max: 3 },
  [ApiKey.SyncGroup]: { min: 0, max: 3 },
  [ApiKey.DescribeGroups]: { min: 2, max: 2 },
  [ApiKey.ListGroups]: { min: 2, max: 2 },
  [ApiKey.ApiVersions]: { min: 0, max: 2 },
  [ApiKey.CreateTopics]: { min: 3, max: 3 },
  [ApiKey.DeleteTopics]: { min: 1, max: 1 },
  [ApiKey.InitProducerId]: { min: 1, max: 1 },
  [ApiKey.DescribeConfigs]: { min: 2, max: 2 },
};

export function apiName(apiKey: number): string {
  for (const [name, value] of Object.entries(ApiKey)) if (value === apiKey) return name;
  return `api-${apiKey}`;
}

export function isSupported(apiKey: number, version: number): boolean {
  const range = (SUPPORTED_VERSIONS as Record<number, VersionRange | undefined>)[apiKey];
  return range !== undefined && version >= range.min && version <= range.max;
}
