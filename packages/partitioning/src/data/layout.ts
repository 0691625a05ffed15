// Where a partition's keys live in this node's store (one abstract-level store per node).
//   h:<slot, 4 hex digits>:<key>   hash schemes: each slot is one contiguous prefix
//   r:<key>                        range scheme: the store's order is the partitions' order,
//                                  so a split or merge rewrites no data
//   m:<partition id>               the partition's sequence number (last version written)
// Each value is varint(version) followed by the value's bytes. FORMAT.md describes it.
import type { PartitionInfo, Scheme } from '../core/index.js';

export interface StoreBounds {
  gte: string;
  lt: string;
}

export class Layout {
  constructor(private readonly schemeOf: () => Scheme) {}

  get scheme(): Scheme {
    return this.schemeOf();
  }

  dataKey(partitionId: number, key: string): string {
    return this.scheme === 'range' ? `r:${key}` : `${slotPrefix(partitionId)}${key}`;
  }

  userKey(storeKey: string): string {
    return this.scheme === 'range' ? storeKey.slice(2) : storeKey.slice(7);
  }

  bounds(partition: PartitionInfo): StoreBounds {
    if (this.scheme !== 'range') {
      const prefix = slotPrefix(partition.id);
      return { gte: prefix, lt: `${prefix.slice(0, -1)};` };
    }
    const range = partition.range;
    if (!range) throw new Error(`partition ${partition.id} has no range`);
    return { gte: `r:${range.start}`, lt: range.end === null ? 'r;' : `r:${range.end}` };
  }

  /** The part of a partition's bounds inside the scan [start, end). */
  scanBounds(partition: PartitionInfo, start: string, end: string | null): StoreBounds {
    const all = this.bounds(partition);
    if (this.scheme !== 'range') {
      const prefix = all.gte;
      return { gte: `${prefix}${start}`, lt: end === null ? all.lt : `${prefix}${end}` };
    }
    const gte = `r:${start}` > all.gte ? `r:${start}` : all.gte;
    const lt = end !== null && `r:${end}` < all.lt ? `r:${end}` : all.lt;
    return { gte, lt };
  }
}

export function metaKey(partitionId: number): string {
  return `m:${partitionId}`;
}

function slotPrefix(partitionId: number): string {
  return `h:${partitionId.toString(16).padStart(4, '0')}:`;
}

/** Local (document-partitioned) index entries of one partition: x:<id>:<index>\0<term>\0<key>. */
export function localIndexPrefix(partitionId: number): string {
  return `x:${partitionId.toString(16).padStart(4, '0')}:`;
}

export function localIndexKey(partitionId: number, index: string, term: string, key: string): string {
  return `${localIndexTermPrefix(partitionId, index, term)}${key}`;
}

export function localIndexTermPrefix(partitionId: number, index: string, term: string): string {
  return `${localIndexPrefix(partitionId)}${index}\u0000${term}\u0000`;
}

/** The end of a prefix's key range: the prefix with its last character raised by one, so that
 *  every key starting with `prefix` sorts below it in UTF-16 and in UTF-8 byte order alike. */
export function prefixEnd(prefix: string): string {
  return `${prefix.slice(0, -1)}${String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1)}`;
}

/** This node's outbox of global index updates still to deliver: o:<sequence, 15 digits>. */
export const OUTBOX_PREFIX = 'o:';

export function outboxKey(seq: number): string {
  return `${OUTBOX_PREFIX}${String(seq).padStart(15, '0')}`;
}

/** s:<partition id>: the freeze epoch this node last sealed the partition for (decimal ASCII). */
export const SEAL_PREFIX = 's:';

export function sealKey(partitionId: number): string {
  return `${SEAL_PREFIX}${partitionId}`;
}

/** b:<index>:<partition id>: this node finished backfilling an online-created index there. */
export function builtKey(index: string, partitionId: number): string {
  return `b:${index}:${partitionId}`;
}
