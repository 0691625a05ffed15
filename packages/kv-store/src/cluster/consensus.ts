// What the kv-store needs from its consensus module: exactly the @ddia/raft node API
// (packages/raft/API.md), written down here so that the routes depend on a small interface.
// Raft's errors are recognised by their catalogue code (RaftErrors), the one thing this
// file takes from the raft package.
import { RaftErrors } from '@ddia/raft';

export interface MemberStatus {
  id: string;
  url?: string | undefined;
  voter: boolean;
}

export interface FollowerProgress {
  matchIndex: number;
  nextIndex: number;
  state: string;
  recentActive: boolean;
}

export interface ConsensusStatus {
  id: string;
  role: string;
  term: number;
  leaderId: string | null;
  leaderUrl: string | null;
  commitIndex: number;
  appliedIndex: number;
  lastIndex: number;
  snapshotIndex: number;
  members: MemberStatus[];
  progress: Record<string, FollowerProgress>;
  leadTransferee: string | null;
}

/** How well the node batches its work (counters since start). */
export interface RaftBatchStats {
  readies: number;
  logWrites: number;
  entriesWritten: number;
  entriesApplied: number;
  messagesSent: number;
  readRounds: number;
}

export interface ConsensusNode {
  readonly stats?: RaftBatchStats;
  propose(
    command: Uint8Array,
    options: { timeoutMs: number },
  ): Promise<{ index: number; term: number; result: unknown }>;
  readIndex(options: { timeoutMs: number }): Promise<unknown>;
  status(): ConsensusStatus;
  /** Who leads: what status() says of it, without copying progress and members (per request). */
  leadership(): Pick<ConsensusStatus, 'id' | 'role' | 'term' | 'leaderId' | 'leaderUrl'>;
  snapshotNow(): Promise<{ index: number; term: number }>;
  addMember(member: { id: string; url: string }, options: { timeoutMs: number }): Promise<unknown>;
  removeMember(id: string, options: { timeoutMs: number }): Promise<unknown>;
  transferLeadership(id: string | undefined, options: { timeoutMs: number }): Promise<unknown>;
  on(event: 'leader', listener: (leaderId: string | null, term: number) => void): unknown;
  on(event: 'fatal', listener: (error: unknown) => void): unknown;
}

/** How a failed consensus call ended, as far as the caller can tell (Raft API.md §3, §9). */
export type ConsensusFailure =
  /** Not applied; `leaderUrl` says where to go when a leader is known. */
  | { kind: 'not_leader'; leaderId: string | undefined; leaderUrl: string | undefined }
  /** Not applied yet; try again shortly (leadership transfer, membership change). */
  | { kind: 'busy'; reason: string }
  /** Maybe applied (dropped proposal, commit timeout). */
  | { kind: 'unknown'; reason: string }
  | { kind: 'conf_change_in_progress'; reason: string }
  | { kind: 'stopped' }
  | { kind: 'other'; error: Error };

/**
 * Matches on Raft's error codes (its catalogue, RaftErrors), not on class names: codes are
 * the stable contract, and they survive bundling, subclassing and a trip through HTTP.
 */
export function classifyConsensusError(error: unknown): ConsensusFailure {
  const err = error as Error & { leaderId?: string; leaderUrl?: string; code?: unknown };
  switch (err?.code) {
    case RaftErrors.notLeader.code:
      return { kind: 'not_leader', leaderId: err.leaderId, leaderUrl: err.leaderUrl };
    case RaftErrors.transferring.code:
    // Lost for certain (its index went to another term's entry): not applied, safe to retry.
    case RaftErrors.proposalNotCommitted.code:
      return { kind: 'busy', reason: err.message };
    case RaftErrors.confChangeInProgress.code:
      return { kind: 'conf_change_in_progress', reason: err.message };
    case RaftErrors.proposalDropped.code:
    case RaftErrors.timeout.code:
      return { kind: 'unknown', reason: err.message };
    case RaftErrors.stopped.code:
      return { kind: 'stopped' };
    default:
      return { kind: 'other', error: err instanceof Error ? err : new Error(String(error)) };
  }
}
