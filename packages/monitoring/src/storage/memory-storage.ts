// Storage without a data dir: the same TSDB, in memory only (nothing survives a restart).
import { MemoryTsdb } from '../core/tsdb.js';
import type { IngestResult, IngestSample } from './disk-tsdb.js';

export interface TsdbStorage {
  readonly db: MemoryTsdb;
  ingest(samples: readonly IngestSample[]): Promise<IngestResult>;
  sync(): Promise<void>;
  compact(nowMs: number): Promise<{ block: string | null; dropped: string[] }>;
  close(): Promise<void>;
}

export class MemoryStorage implements TsdbStorage {
  readonly db = new MemoryTsdb();

  async ingest(samples: readonly IngestSample[]): Promise<IngestResult> {
    const result: IngestResult = { appended: 0, outOfOrder: 0, duplicate: 0 };
    for (const s of samples) {
      const outcome = this.db.append(s.labels, s.t, s.value, s.stale === true).outcome;
      if (outcome === 'ok') result.appended++;
      else if (outcome === 'duplicate') result.duplicate++;
      else result.outOfOrder++;
    }
    return result;
  }
  async sync(): Promise<void> {}
  async compact(): Promise<{ block: string | null; dropped: string[] }> {
    return { block: null, dropped: [] };
  }
  async close(): Promise<void> {}
}
