// Metadata (key 3), version 6: the brokers, and for each topic its partitions and leaders.
//
//   Metadata Request (v6) => [topics:STRING] (null = all topics) allow_auto_topic_creation:BOOLEAN
//   Metadata Response (v6) => throttle_time_ms:INT32 [brokers] cluster_id:NULLABLE_STRING
//                             controller_id:INT32 [topics]
//     brokers => node_id:INT32 host:STRING port:INT32 rack:NULLABLE_STRING
//     topics => error_code:INT16 name:STRING is_internal:BOOLEAN [partitions]
//       partitions => error_code:INT16 partition_index:INT32 leader_id:INT32
//                     [replica_nodes:INT32] [isr_nodes:INT32] [offline_replicas:INT32]
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

export function decodeMetadataRequest(r: Reader): MetadataRequest {
  const topics = r.nullableArray((r) => r.string());
  const allowAutoTopicCreation = r.boolean();
  return { topics, allowAutoTopicCreation };
}

export function encodeMetadataResponse(w: Writer, res: MetadataResponse): void {
  w.int32(0);
  w.array(res.brokers, (w, b) => w.int32(b.nodeId).string(b.host).int32(b.port).nullableString(b.rack));
  w.nullableString(res.clusterId).int32(res.controllerId);
  w.array(res.topics, (w, t) => {
    w.int16(t.errorCode).string(t.name).boolean(t.isInternal);
    w.array(t.partitions, (w, p) => {
      w.int16(p.errorCode).int32(p.partitionIndex).int32(p.leaderId);
      w.array(p.replicaNodes, (w, n) => w.int32(n));
      w.array(p.isrNodes, (w, n) => w.int32(n));
      w.array(p.offlineReplicas, (w, n) => w.int32(n));
    });
  });
}
