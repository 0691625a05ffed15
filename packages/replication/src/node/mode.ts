// What the HTTP layer needs from a node, whatever its replication mode: run a read or a
// mutation, describe the cluster, say whether it can take traffic. One adapter per mode
// (leaderless-mode.ts, multi-leader-mode.ts, single-leader-mode.ts) maps these onto its core.
import type { Clock } from '@ddia/common';
import type { AntiEntropy } from '../core/anti-entropy.js';
import type { Mutation } from '../core/key-state.js';
import type { KeyRecord, QuorumSpec, RequestResult } from '../core/ready.js';
import { type DrivenCore, Driver } from './driver.js';
import type { Journal } from './journal.js';
import type { PeerTransport } from './transport.js';

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

/** What a mode's driver runs on: the same kinds of things in every mode. */
export interface ModeIo<M, P> {
  clock: Clock;
  journal: Journal<P>;
  transport: PeerTransport<M>;
  onFatal: (error: unknown) => void;
  /** Journal records that trigger a compaction (0: never). */
  compactRecords?: number;
}

/** The part of every mode that is its driver's: start ticking, stop, wait for the work in flight. */
export abstract class DrivenMode<M, Req, P, C extends DrivenCore<M, Req, P>> {
  readonly driver: Driver<M, Req, P>;

  constructor(
    readonly core: C,
    io: ModeIo<M, P>,
  ) {
    this.driver = new Driver(core, io.journal, io.transport, io.onFatal, io.compactRecords ?? 0);
  }

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

/** A multi-leader or leaderless core: every node holds key states and runs Merkle exchanges. */
interface KeyStateCore<M, Req> extends DrivenCore<M, Req, KeyRecord> {
  readonly config: {
    readonly id: string;
    readonly nodes: readonly string[];
    readonly tombstoneGraceMs: number;
  };
  readonly store: { readonly size: number };
  readonly stats: object;
  readonly antiEntropy: AntiEntropy;
  alive(peer: string): boolean;
}

/** The multi-leader and leaderless modes: no leader, no epoch, every node a peer of the others. */
export abstract class KeyStateMode<M, Req, C extends KeyStateCore<M, Req>> extends DrivenMode<
  M,
  Req,
  KeyRecord,
  C
> {
  abstract readonly mode: ModeName;
  /** What every member is in this mode. */
  protected abstract readonly role: string;
  /** Replication lag towards a peer, as the mode measures it. */
  protected abstract lag(peer: string): Record<string, number>;
  protected abstract settings(): Record<string, unknown>;
  /** Mode-specific counts shown before the core's own stats. */
  protected abstract counts(): Record<string, number>;

  status(urls: ReadonlyMap<string, string>): ClusterStatus {
    const config = this.core.config;
    return {
      mode: this.mode,
      self: config.id,
      epoch: null,
      leader: null,
      members: config.nodes.map((id) => ({
        id,
        url: urls.get(id) ?? '',
        role: this.role,
        alive: this.core.alive(id),
        lag: id === config.id ? null : this.lag(id),
      })),
      settings: { ...this.settings(), tombstoneGraceMs: config.tombstoneGraceMs },
      stats: {
        keys: this.core.store.size,
        ...this.counts(),
        ...(this.core.stats as Record<string, number>),
        antiEntropyBytesSent: this.core.antiEntropy.stats.bytesSent,
        antiEntropyKeysRepaired: this.core.antiEntropy.stats.keysRepaired,
      },
    };
  }

  ready(): boolean {
    return true;
  }
}
