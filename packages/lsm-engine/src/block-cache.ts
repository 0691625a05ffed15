// A size-bounded LRU cache of decoded data blocks shared by every table (LevelDB's
// block cache, 8 MiB by default there too). Keyed by (file number, block offset).
import { LRUCache } from 'lru-cache';
import type { Block } from './block.js';

export const BLOCK_CACHE_BYTES_DEFAULT = 8 * 1024 * 1024;
/** File numbers stay below 2^21, offsets below 2^32: the pair fits in a safe integer. */
const OFFSET_SPAN = 2 ** 32;

export class BlockCache {
  private readonly lru: LRUCache<number, Block>;
  hits = 0;
  misses = 0;

  constructor(readonly capacityBytes: number) {
    this.lru = new LRUCache<number, Block>({
      maxSize: Math.max(1, capacityBytes),
      sizeCalculation: (block) => Math.max(1, block.data.length),
    });
  }

  get(fileNumber: number, offset: number): Block | undefined {
    const block = this.lru.get(fileNumber * OFFSET_SPAN + offset);
    if (block) this.hits++;
    else this.misses++;
    return block;
  }

  set(fileNumber: number, offset: number, block: Block): void {
    if (block.data.length > this.capacityBytes) return;
    this.lru.set(fileNumber * OFFSET_SPAN + offset, block);
  }

  /** Drops a deleted table's blocks (they would age out anyway; this frees memory now). */
  evictFile(fileNumber: number, offsets: Iterable<number>): void {
    for (const offset of offsets) this.lru.delete(fileNumber * OFFSET_SPAN + offset);
  }

  get bytes(): number {
    return this.lru.calculatedSize;
  }
}
