// An idempotent sink (DDIA ch. 11 "Idempotence"): every output of the stream processor carries
// the position of the input record it came from (topic, partition, offset, index among that
// record's outputs). After a crash the processor may produce some outputs twice; a sink that
// remembers, per output partition and input partition, the last position it applied, applies
// each output once. The remembered positions are part of the sink's own state: save them with
// the view in one write and the view is effectively exactly-once.
import type { SourcePosition } from './topology.js';

export class IdempotentSink {
  private readonly last = new Map<string, { offset: number; index: number }>();

  /** True the first time this output is seen; false for a replay of one already applied. */
  accept(outputPartition: number, source: SourcePosition): boolean {
    const slot = `${outputPartition}|${source.topic}:${source.partition}`;
    const seen = this.last.get(slot);
    if (
      seen &&
      (source.offset < seen.offset || (source.offset === seen.offset && source.index <= seen.index))
    )
      return false;
    this.last.set(slot, { offset: source.offset, index: source.index });
    return true;
  }

  toJSON(): Record<string, { offset: number; index: number }> {
    return Object.fromEntries(this.last);
  }

  static fromJSON(json: Record<string, { offset: number; index: number }>): IdempotentSink {
    const sink = new IdempotentSink();
    for (const [slot, position] of Object.entries(json)) sink.last.set(slot, position);
    return sink;
  }
}

/** The header value carrying an output's source position: `topic:partition:offset:index`. */
export function formatSource(source: SourcePosition): string {
  return `${source.topic}:${source.partition}:${source.offset}:${source.index}`;
}

export function parseSource(raw: string): SourcePosition | null {
  const m = /^(.*):(\d+):(\d+):(\d+)$/.exec(raw);
  if (!m) return null;
  return { topic: m[1]!, partition: Number(m[2]), offset: Number(m[3]), index: Number(m[4]) };
}

export const SOURCE_HEADER = 'ddia-source';
