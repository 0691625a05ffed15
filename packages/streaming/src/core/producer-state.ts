// Idempotent producer bookkeeping for one partition (KIP-98): per producer id, the epoch and the
// sequence numbers of the last few batches appended. A producer retrying a batch whose
// acknowledgement was lost sends the same (producer_id, epoch, base_sequence) again; the
// broker recognises it and answers with the offset it already assigned instead of appending
// a duplicate (DDIA ch. 11, "idempotence"). A gap in the sequence means a lost batch:
// OUT_OF_ORDER_SEQUENCE_NUMBER, so that the producer does not silently reorder.
import { ErrorCode } from './error-codes.js';

/** Kafka keeps the last five batches per producer: a producer has at most five in flight. */
export const BATCHES_REMEMBERED = 5;
const SEQUENCE_MAX = 0x7fffffff;

export interface AppendedBatch {
  baseSequence: number;
  lastSequence: number;
  baseOffset: number;
}

interface ProducerEntry {
  epoch: number;
  batches: AppendedBatch[];
}

export type SequenceCheck =
  | { kind: 'append' }
  | { kind: 'duplicate'; baseOffset: number }
  | { kind: 'error'; errorCode: number };

function nextSequence(sequence: number): number {
  return sequence === SEQUENCE_MAX ? 0 : sequence + 1;
}

export class ProducerStateTable {
  private readonly producers = new Map<number, ProducerEntry>();

  /** Decides what to do with a batch from an idempotent producer. */
  check(producerId: number, epoch: number, baseSequence: number, recordCount: number): SequenceCheck {
    const entry = this.producers.get(producerId);
    const lastSequence = (baseSequence + recordCount - 1) % (SEQUENCE_MAX + 1);
    if (!entry) {
      // A producer new to this partition starts at sequence 0; anything else lost its history.
      return baseSequence === 0
        ? { kind: 'append' }
        : { kind: 'error', errorCode: ErrorCode.UNKNOWN_PRODUCER_ID };
    }
    if (epoch < entry.epoch) return { kind: 'error', errorCode: ErrorCode.INVALID_PRODUCER_EPOCH };
    if (epoch > entry.epoch) {
      return baseSequence === 0
        ? { kind: 'append' }
        : { kind: 'error', errorCode: ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER };
    }
    for (const b of entry.batches) {
      if (b.baseSequence === baseSequence && b.lastSequence === lastSequence) {
        return { kind: 'duplicate', baseOffset: b.baseOffset };
      }
    }
    const last = entry.batches[entry.batches.length - 1]!;
    if (baseSequence !== nextSequence(last.lastSequence)) {
      return { kind: 'error', errorCode: ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER };
    }
    return { kind: 'append' };
  }

  /** Records an appended batch (also called while replaying the log at open). */
  record(
    producerId: number,
    epoch: number,
    baseSequence: number,
    recordCount: number,
    baseOffset: number,
  ): void {
    let entry = this.producers.get(producerId);
    if (!entry || epoch > entry.epoch) {
      entry = { epoch, batches: [] };
      this.producers.set(producerId, entry);
    }
    const lastSequence = (baseSequence + recordCount - 1) % (SEQUENCE_MAX + 1);
    entry.batches.push({ baseSequence, lastSequence, baseOffset });
    if (entry.batches.length > BATCHES_REMEMBERED) entry.batches.shift();
  }

  get size(): number {
    return this.producers.size;
  }
}
