// Transactions as Elle records them (Kingsbury & Alvaro, "Elle: Inferring Isolation Anomalies
// from Experimental Observations", VLDB 2020): each is a list of micro-operations on keys.
// - list-append: ['append', k, v] adds v to the end of the list at k; ['r', k, list] reads it.
// - rw-register: ['w', k, v] overwrites k; ['r', k, v] reads it (null: never written).
// Written values must be unique per key, so that every read names the write it saw.

export type MicroOp = ['append', string, unknown] | ['r', string, unknown] | ['w', string, unknown];

export interface Transaction {
  process: number;
  /** ok: committed; fail: aborted (had no effect); info: unknown, may have committed. */
  type: 'ok' | 'fail' | 'info';
  ops: MicroOp[];
  invokeMs: number;
  /** Absent (or Infinity) for info transactions: they have no known completion. */
  completeMs?: number;
}

export type DependencyType = 'ww' | 'wr' | 'rw' | 'rt';

/** An edge of the direct serialization graph (Adya 1999), with where it came from. */
export interface DependencyEdge {
  from: number;
  to: number;
  type: DependencyType;
  /** For ww / wr / rw: the key and the value(s) that induced the edge. */
  key?: string;
  why: string;
}

export type AnomalyType =
  | 'G0'
  | 'G1a'
  | 'G1b'
  | 'G1c'
  | 'G-single'
  | 'G2-item'
  /** A dependency cycle exists (its component is strongly connected) but the bounded search did not name one. */
  | 'cycle-unclassified'
  | 'G0-realtime'
  | 'G1c-realtime'
  | 'G-single-realtime'
  | 'G2-item-realtime'
  /** Two committed transactions read the same version of a key and both wrote it. */
  | 'lost-update'
  | 'incompatible-order'
  | 'garbage-read'
  | 'duplicate-write';

export interface Anomaly {
  type: AnomalyType;
  /** Indexes into the checked transaction array. */
  transactions: number[];
  /** For cycle anomalies: the edges of one cycle, each edge's `to` is the next edge's `from`. */
  cycle?: DependencyEdge[];
  explanation: string;
}

/** A transaction history that cannot be checked (bad micro-op, duplicate written values). */
export class TransactionHistoryError extends Error {
  override name = 'TransactionHistoryError';
}
