// Recovery: the log holds only committed effects (and prepared ones), so recovery is a
// replay of its records in log order, before the log is attached for new appends (replay
// must not log again). A transaction whose record is not in the log never happened
// (redo-only logging; DDIA ch. 7 "Atomicity").
import type { CheckpointImage } from './checkpoint-image.js';
import type { Row } from './expression.js';
import { keyOf } from './table.js';
import type { Tx, TxTable } from './transaction.js';
import type { PreparedTransactions } from './two-phase.js';
import type { WalRecord } from './wal-record.js';

/** What replay needs from the transaction manager. */
export interface ReplayHost {
  readonly tables: Map<string, TxTable>;
  readonly prepared: PreparedTransactions;
  newTable(name: string, primaryKey: string): TxTable;
  /** The next commit sequence number (a replayed commit takes the next one, as it did live). */
  nextCommitSeq(): number;
  /** A fresh active transaction to hold a prepared transaction's writes and locks. */
  beginRecovered(): Tx;
  pushVersion(tx: Tx, table: TxTable, key: string, row: Row | null): void;
  /** Commits a recovered prepared transaction without logging it again. */
  commitRecovered(tx: Tx): void;
  abort(tx: Tx, reason: string): void;
  /** Drops the versions of one row that no snapshot can see any more. */
  collectGarbage(table: TxTable, key: string): void;
}

/** Re-applies one logged record. */
export function replayRecord(host: ReplayHost, record: WalRecord): void {
  switch (record.type) {
    case 'create-table':
      host.tables.set(record.name, host.newTable(record.name, record.primaryKey));
      return;
    case 'drop-table': {
      const t = host.tables.get(record.name);
      if (t) t.dropped = true;
      host.tables.delete(record.name);
      return;
    }
    case 'commit': {
      const seq = host.nextCommitSeq();
      for (const w of record.writes) {
        const table = host.tables.get(w.table);
        if (!table) continue;
        table.chain(w.key).push({ creator: null, row: w.row, commitSeq: seq });
        // Only the rows this record wrote: vacuuming every table per record made replay
        // quadratic (a million records over a thousand rows took minutes).
        host.collectGarbage(table, w.key);
      }
      return;
    }
    case 'prepare': {
      const tx = host.beginRecovered();
      host.prepared.restore(record.gid, tx);
      for (const w of record.writes) {
        const table = host.tables.get(w.table);
        if (table) host.pushVersion(tx, table, w.key, w.row);
      }
      return;
    }
    case 'commit-prepared': {
      const tx = host.prepared.takeRecovered(record.gid);
      if (tx) host.commitRecovered(tx);
      return;
    }
    case 'rollback-prepared': {
      const tx = host.prepared.takeRecovered(record.gid);
      if (tx) host.abort(tx, 'rolled back prepared');
      return;
    }
  }
}

/** Loads a checkpoint's image into an empty database: its rows as one commit, then its prepared transactions. */
export function restoreImage(host: ReplayHost, image: CheckpointImage): void {
  const seq = host.nextCommitSeq();
  for (const { name, primaryKey, rows } of image.tables) {
    const table = host.newTable(name, primaryKey);
    host.tables.set(name, table);
    for (const row of rows) table.chain(keyOf(row[primaryKey])).push({ creator: null, row, commitSeq: seq });
  }
  for (const { gid, writes } of image.prepared) replayRecord(host, { type: 'prepare', gid, writes });
}
