// Metadata (key 3), versions 1 to 6: the brokers, and for each topic its partitions and leaders.
// librdkafka (kcat) asks for v4 at most, kafkajs for v6; the versions differ only in fields
// added at the end of a structure or in front of the response:
//
//   Metadata Request => [topics:STRING] (null = all topics)
//                       allow_auto_topic_creation:BOOLEAN (v4+)
//   Metadata Response => throttle_time_ms:INT32 (v3+) [brokers] cluster_id:NULLABLE_STRING (v2+)
//                        controller_id:INT32 [topics]
//     brokers => node_id:INT32 host:STRING port:INT32 rack:NULLABLE_STRING
//     topics => error_code:INT16 name:STRING is_internal:BOOLEAN [partitions]
//       partitions => error_code:INT16 partition_index:INT32 leader_id:INT32
//                     [replica_nodes:INT32] [isr_nodes:INT32] [offline_replicas:INT32] (v5+)
// (v0, which has no rack, controller or null topic list, is not served.)
import type { Reader } from '../../core/wire/reader.js';
import type { Writer } from '../../core/wire/writer.js';

export interface MetadataRequest {
  topics: string[] | null;
  allowAutoTopicCreation: boolean;
}

export interface MetadataResponse {
  brokers: { nodeId: number; host: string; port: number; rack: string | null }[];
  clusterId: string | null;
  controllerId: number;
  topics: {
    errorCode: number;
    name: string;
    isInternal: boolean;
    partitions: {
      errorCode: number;
      partitionIndex: number;
      leaderId: number;
      replicaNodes: number[];
      isrNodes: number[];
      offlineReplicas: number[];
    }[];
  }[];
}

export function decodeMetadataRequest(r: Reader, version: number): MetadataRequest {
  const topics = r.nullableArray((r) => r.string());
  // Before v4 a broker decided auto-creation by its own setting (Kafka's default: on).
  const allowAutoTopicCreation = version >= 4 ? r.boolean() : true;
  return { topics, allowAutoTopicCreation };
}

export function encodeMetadataResponse(w: Writer, res: MetadataResponse, version: number): void {
  if (version >= 3) w.int32(0);
  w.array(res.brokers, (w, b) => w.int32(b.nodeId).string(b.host).int32(b.port).nullableString(b.rack));
  if (version >= 2) w.nullableString(res.clusterId);
  w.int32(res.controllerId);
  w.array(res.topics, (w, t) => {
    w.int16(t.errorCode).string(t.name).boolean(t.isInternal);
    w.array(t.partitions, (w, p) => {
      w.int16(p.errorCode).int32(p.partitionIndex).int32(p.leaderId);
      w.array(p.replicaNodes, (w, n) => w.int32(n));
      w.array(p.isrNodes, (w, n) => w.int32(n));
      if (version >= 5) w.array(p.offlineReplicas, (w, n) => w.int32(n));
    });
  });
}
