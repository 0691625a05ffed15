// Produce: check each partition's batches, append them, answer per partition.
// Durability by acks (DDIA ch. 5 and 11): acks=0 no answer at all; acks=1 answered once the
// batch is written to the partition's log (in the OS page cache: it survives a crash of the
// broker process, not a power cut); acks=all answered once the batch is fsync'd (the only
// replica is this broker, so "all in-sync replicas have it" means "it is on disk").
import {
  type Batch,
  BatchError,
  compressionOf,
  ErrorCode,
  isInternalTopic,
  splitBatches,
} from '../../core/index.js';
import { SequenceError } from '../../log/partition-log.js';
import type {
  ProducePartitionResponse,
  ProduceRequest,
  ProduceResponse,
} from '../../protocol/produce/v3-v7.js';
import type { Broker } from '../broker.js';
import { SUPPORTED_CODECS } from '../compression.js';

const NO_OFFSET = -1;
const NO_TIMESTAMP = -1;

export async function handleProduce(broker: Broker, req: ProduceRequest): Promise<ProduceResponse | null> {
  const acksValid = req.acks === 0 || req.acks === 1 || req.acks === -1;
  const topics = await Promise.all(
    req.topics.map(async (t) => ({
      name: t.name,
      partitions: await Promise.all(
        t.partitions.map((p) => produceToPartition(broker, req, acksValid, t.name, p.index, p.records)),
      ),
    })),
  );
  return req.acks === 0 ? null : { topics };
}

async function produceToPartition(
  broker: Broker,
  req: ProduceRequest,
  acksValid: boolean,
  topicName: string,
  index: number,
  records: Uint8Array | null,
): Promise<ProducePartitionResponse> {
  const answer = (errorCode: number, baseOffset = NO_OFFSET, logStartOffset = NO_OFFSET) => ({
    index,
    errorCode,
    baseOffset,
    logAppendTimeMs: NO_TIMESTAMP,
    logStartOffset,
  });
  if (!acksValid) return answer(ErrorCode.INVALID_REQUIRED_ACKS);
  // Transactions are not implemented: a transactional producer is told so instead of half-served.
  if (req.transactionalId !== null) return answer(ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
  // Only the coordinator writes the offsets topic (Kafka: "cannot append to internal topic").
  if (isInternalTopic(topicName)) return answer(ErrorCode.INVALID_TOPIC_EXCEPTION);
  const topic = broker.topic(topicName);
  const partition = topic?.partitions[index];
  if (!topic || !partition) return answer(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  if (records === null || records.length === 0) return answer(ErrorCode.INVALID_RECORD);
  let batches: Batch[];
  try {
    batches = splitBatches(records);
  } catch (err) {
    if (!(err instanceof BatchError)) throw err;
    broker.logger.warn({ topic: topicName, partition: index, reason: err.message }, 'produce refused');
    return answer(
      err.kind === 'corrupt'
        ? ErrorCode.CORRUPT_MESSAGE
        : err.kind === 'compression'
          ? ErrorCode.UNSUPPORTED_COMPRESSION_TYPE
          : ErrorCode.INVALID_RECORD,
    );
  }
  const maxBytes = broker.configNumber(topic.meta, 'max.message.bytes');
  for (const batch of batches) {
    if (batch.bytes.length > maxBytes) return answer(ErrorCode.MESSAGE_TOO_LARGE);
    if (!SUPPORTED_CODECS.has(compressionOf(batch.header)))
      return answer(ErrorCode.UNSUPPORTED_COMPRESSION_TYPE);
  }
  const replication = broker.replication;
  let epoch: number | undefined;
  if (replication) {
    // Cluster mode: only the partition's leader takes appends; acks=all needs enough in sync.
    const leaderError = replication.leaderError(topicName, index);
    if (leaderError !== ErrorCode.NONE) return answer(leaderError);
    if (req.acks === -1 && !replication.canAcceptAcksAll(topicName, index))
      return answer(ErrorCode.NOT_ENOUGH_REPLICAS);
    epoch = replication.leaderEpoch(topicName, index);
  }
  try {
    const outcome = await partition.append(batches, req.acks === -1, epoch);
    if (replication) {
      // acks=all is answered once every in-sync replica has the batch (a duplicate too: the
      // first copy may not be replicated yet).
      let end = outcome.baseOffset;
      for (const b of batches) end += b.header.lastOffsetDelta + 1;
      const errorCode = await replication.afterAppend(topicName, index, end, req.acks, req.timeoutMs);
      if (errorCode !== ErrorCode.NONE) return answer(errorCode);
    }
    return answer(ErrorCode.NONE, outcome.baseOffset, partition.logStartOffset);
  } catch (err) {
    if (err instanceof SequenceError) return answer(err.errorCode);
    throw err;
  }
}
