// One transaction's state: its isolation level, its snapshot, the versions it wrote, the
// locks and read markers it holds, and the promise its waiters sleep on.
import type { Compiled } from './expression.js';
import type { Table, Version } from './table.js';

/** A version chain's entries and tables as the engine uses them: written by transactions. */
export type TxVersion = Version<Tx>;
export type TxTable = Table<Tx>;

export const ISOLATION_LEVELS = [
  'read-uncommitted',
  'read-committed',
  'repeatable-read',
  'serializable',
  'serializable-2pl',
  'serial',
] as const;
export type Isolation = (typeof ISOLATION_LEVELS)[number];

export function isIsolation(s: unknown): s is Isolation {
  return typeof s === 'string' && (ISOLATION_LEVELS as readonly string[]).includes(s);
}

export type TxStatus = 'active' | 'committing' | 'committed' | 'aborted';

export interface WriteRecord {
  table: TxTable;
  key: string;
  version: TxVersion;
}

export class Tx {
  status: TxStatus = 'active';
  /** Commits with a sequence number at or below this are visible (RR, SSI: fixed at first statement). */
  snapshotSeq: number | undefined;
  commitSeq: number | undefined;
  /** What the oldest version this transaction may still read is; bounds garbage collection. */
  readonly horizonSeq: number;
  readonly writes: WriteRecord[] = [];
  /** Serializable snapshot isolation (Cahill et al. 2008): rw-antidependency edges. */
  readonly inConflicts = new Set<Tx>();
  readonly outConflicts = new Set<Tx>();
  /** Set when another transaction found this one to be the victim of a dangerous structure. */
  doomed: string | undefined;
  /** Strict two-phase locking: predicate (shared) locks held until commit or abort. */
  readonly predicateLocks: { table: TxTable; predicate: Compiled }[] = [];
  /** The transactions this one is waiting for; edges of the waits-for graph. */
  waitingFor: ReadonlySet<Tx> | null = null;
  /** A statement is running (HTTP requests of one transaction do not overlap). */
  busy = false;
  abortReason: string | undefined;
  idleTimer: { cancel(): void } | null = null;
  /** Prepared for two-phase commit: its fate belongs to the coordinator now. */
  prepared = false;
  readonly done: Promise<void>;
  private resolveDone!: () => void;

  constructor(
    readonly id: number,
    readonly isolation: Isolation,
    horizonSeq: number,
  ) {
    this.horizonSeq = horizonSeq;
    this.done = new Promise<void>((resolve) => {
      this.resolveDone = resolve;
    });
  }

  get finished(): boolean {
    return this.status === 'committed' || this.status === 'aborted';
  }

  get hasCommitSeq(): boolean {
    return this.commitSeq !== undefined;
  }

  get usesSsi(): boolean {
    return this.isolation === 'serializable';
  }

  markFinished(): void {
    this.resolveDone();
  }
}
