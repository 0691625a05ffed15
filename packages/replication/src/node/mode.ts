// What the HTTP layer needs from a node, whatever its replication mode: run a read or a
// mutation, describe the cluster, say whether it can take traffic. One adapter per mode
// (leaderless-mode.ts, multi-leader-mode.ts, single-leader-mode.ts) maps these onto its core.
import type { Mutation } from '../core/key-state.js';
import type { QuorumSpec, RequestResult } from '../core/ready.js';
import type { Driver } from './driver.js';

export const MODES = ['single-leader', 'multi-leader', 'leaderless'] as const;
export type ModeName = (typeof MODES)[number];

export type KvOp =
  | { kind: 'read'; key: string; r?: QuorumSpec; minPosition?: number }
  | { kind: 'write'; key: string; mutation: Mutation; w?: QuorumSpec; sync?: boolean };

export interface MemberStatus {
  id: string;
  url: string;
  role: string;
  alive: boolean;
  /** Replication lag towards this member as the mode measures it (entries, keys or hints). */
  lag: Record<string, number | null> | null;
}

export interface ClusterStatus {
  mode: ModeName;
  self: string;
  epoch: number | null;
  leader: string | null;
  members: MemberStatus[];
  settings: Record<string, unknown>;
  stats: Record<string, number>;
}

export interface ModeNode {
  readonly mode: ModeName;
  run(op: KvOp): Promise<RequestResult>;
  status(urls: ReadonlyMap<string, string>): ClusterStatus;
  ready(): boolean;
  /** Manual failover (single-leader only). */
  promote?(): Promise<RequestResult>;
  start(tickMs: number): void;
  stop(): void;
  settle(): Promise<void>;
}

/** The part of every mode that is its driver's: start ticking, stop, wait for the work in flight. */
export abstract class DrivenMode<M, Req, P> {
  abstract readonly driver: Driver<M, Req, P>;

  start(tickMs: number): void {
    this.driver.start(tickMs);
  }

  stop(): void {
    this.driver.stop();
  }

  settle(): Promise<void> {
    return this.driver.settle();
  }
}
