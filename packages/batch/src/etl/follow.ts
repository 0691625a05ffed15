// Follow mode: the ETL as a long-running consumer of the streaming broker's topic. Every
// `everyMs` it pulls what arrived since the last pull (stream-source.ts: one raw file per
// partition, named by its offsets) and, when anything came, applies it as a micro-batch
// (pipeline.ts: only the touched date partitions are rewritten, the watermark records the
// file). Both steps are idempotent, so stopping it at any point (SIGINT, a crash) and starting
// it again loses nothing and applies nothing twice. A failed cycle (the broker away) is
// reported and retried at the next tick rather than ending the loop.
import { setTimeout as sleep } from 'node:timers/promises';
import { type EtlReport, runEtl } from './pipeline.js';
import { type PulledFile, pullTopic } from './stream-source.js';

export interface FollowOptions {
  brokers: string[];
  topic: string;
  rawDir: string;
  outDir: string;
  /** Time from the start of one pull to the start of the next, in ms. */
  everyMs: number;
  /** Aborting it ends the loop after the cycle under way. */
  signal: AbortSignal;
  onBatch?: (batch: { pulled: PulledFile[]; report: EtlReport }) => void;
  onError?: (err: Error) => void;
}

/** Runs until `signal` aborts; resolves with the number of micro-batches applied. */
export async function followTopic(options: FollowOptions): Promise<number> {
  let batches = 0;
  while (!options.signal.aborted) {
    const started = performance.now();
    try {
      const pulled = await pullTopic(options.brokers, options.topic, options.rawDir);
      if (pulled.length > 0) {
        const report = await runEtl(options.rawDir, options.outDir);
        batches++;
        options.onBatch?.({ pulled, report });
      }
    } catch (err) {
      options.onError?.(err as Error);
    }
    const wait = Math.max(0, options.everyMs - (performance.now() - started));
    await sleep(wait, undefined, { signal: options.signal }).catch(() => {});
  }
  return batches;
}
