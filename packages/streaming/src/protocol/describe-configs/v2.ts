// DescribeConfigs (key 32), version 2: a topic's (or the broker's) configuration.
//
//   DescribeConfigs Request (v2) => [resources] include_synonyms:BOOLEAN
//     resources => resource_type:INT8 (2 topic, 4 broker) resource_name:STRING
//                  [configuration_keys:STRING] (null = all)
//   DescribeConfigs Response (v2) => throttle_time_ms:INT32 [results]
//     results => error_code:INT16 error_message:NULLABLE_STRING resource_type:INT8 resource_name:STRING [configs]
//       configs => name:STRING value:NULLABLE_STRING read_only:BOOLEAN config_source:INT8
//                  is_sensitive:BOOLEAN [synonyms]
//         synonyms => name:STRING value:NULLABLE_STRING source:INT8
import type { Reader } from '../../core/wire/reader.js';
import type { Writer } from '../../core/wire/writer.js';

export const ResourceType = { topic: 2, broker: 4 } as const;
/** Where a value comes from: 1 set on the topic, 5 the broker's default. */
export const ConfigSource = { topic: 1, default: 5 } as const;

export interface DescribeConfigsRequest {
  resources: { resourceType: number; resourceName: string; configurationKeys: string[] | null }[];
  includeSynonyms: boolean;
}

export interface DescribeConfigsResult {
  errorCode: number;
  errorMessage: string | null;
  resourceType: number;
  resourceName: string;
  configs: {
    name: string;
    value: string | null;
    readOnly: boolean;
    configSource: number;
    isSensitive: boolean;
  }[];
}

export function decodeDescribeConfigsRequest(r: Reader): DescribeConfigsRequest {
  return {
    resources: r.array((r) => ({
      resourceType: r.int8(),
      resourceName: r.string(),
      configurationKeys: r.nullableArray((r) => r.string()),
    })),
    includeSynonyms: r.boolean(),
  };
}

export function encodeDescribeConfigsResponse(w: Writer, res: { results: DescribeConfigsResult[] }): void {
  w.int32(0);
  w.array(res.results, (w, x) => {
    w.int16(x.errorCode).nullableString(x.errorMessage).int8(x.resourceType).string(x.resourceName);
    w.array(x.configs, (w, c) => {
      w.string(c.name)
        .nullableString(c.value)
        .boolean(c.readOnly)
        .int8(c.configSource)
        .boolean(c.isSensitive);
      w.array([], () => {});
    });
  });
}
