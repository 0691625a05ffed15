// The 2PC coordinator's decision log on common's segmented Log: one JSON record per decision,
// appended with group commit and durable before `append` resolves. The commit record is the
// commit point of a distributed transaction (DDIA ch. 9, "A system of promises"): once it is
// acknowledged, a crash of the coordinator must not lose it, or prepared participants could
// be told to abort a transaction that another participant already committed.
import type { FileSystem } from '@ddia/common';
import { Log } from '@ddia/common';
import type { DecisionLog, DecisionRecord } from '../distributed/coordinator.js';

export interface OpenedDecisionLog {
  log: DecisionLog;
  /** Every decision recorded before this start, in order (for Coordinator.restore). */
  records: DecisionRecord[];
  close(): Promise<void>;
}

export async function openDecisionLog(options: { dir: string; fs?: FileSystem }): Promise<OpenedDecisionLog> {
  const log = await Log.open({ dir: options.dir, fsync: 'group', fs: options.fs });
  const records: DecisionRecord[] = [];
  for await (const { record } of log.entries(log.firstIndex)) {
    records.push(JSON.parse(Buffer.from(record).toString('utf8')) as DecisionRecord);
  }
  return {
    log: { append: async (r) => void (await log.append(Buffer.from(JSON.stringify(r)))) },
    records,
    close: () => log.close(),
  };
}
