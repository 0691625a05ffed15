// Any node accepts any request (etcd's behaviour): the leader executes it, a follower
// forwards it to the leader it knows, and while no leader is known the request waits, up to
// its deadline, for an election to finish (DDIA ch. 5 "Handling node outages: failover").
// Only then does the client see 503 "no leader", which means "not applied, retry".

import { DdiaError } from '@ddia/common';
import { KvErrors } from '../errors.js';
import { type ConsensusNode, classifyConsensusError } from './consensus.js';

/** How often a waiting request looks for a new leader; a fraction of one Raft tick. */
export const LEADER_POLL_MS = 10;
/** Never start a propose or forward with less time than this left. */
const ATTEMPT_MS_MIN = 20;

/** Returned by a forward attempt when the target turned out not to be the leader. */
export const RETRY = Symbol('retry');

export interface RouteOptions<T> {
  node: ConsensusNode;
  /** Absolute deadline on performance.now(). */
  deadlineAt: number;
  /** Runs on the leader. Raft errors thrown from it are classified here. */
  local: (timeoutMs: number) => Promise<T>;
  /** Sends to the leader; null when this request was itself forwarded (forward at most once). */
  forward: ((leaderUrl: string, timeoutMs: number) => Promise<T | typeof RETRY>) | null;
  /** Where this node reaches a member (its own peer list, e.g. through a proxy); else Raft's url. */
  urlOf?: (id: string) => string | undefined;
  /** Whether a consensus timeout means "maybe applied" (writes) or simply "failed" (reads). */
  mutates: boolean;
  /** The consensus node forwards proposals itself (Raft's forwardProposals): `local` works on
   *  any node that knows a leader. */
  proposeOnFollowers?: boolean;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export async function routeToLeader<T>(options: RouteOptions<T>): Promise<T> {
  const { node, deadlineAt } = options;
  let lastLeaderSeen: string | null = null;
  for (;;) {
    const remainingMs = deadlineAt - performance.now();
    if (remainingMs < ATTEMPT_MS_MIN) {
      throw new DdiaError(
        KvErrors.noLeader,
        lastLeaderSeen
          ? `leader ${lastLeaderSeen} did not take the request in time`
          : 'no leader was elected within the deadline',
      );
    }
    const status = node.leadership();
    // A follower that knows the leader proposes too: Raft carries the write to the leader.
    if (status.role === 'leader' || (options.proposeOnFollowers && status.leaderId !== null)) {
      try {
        return await options.local(remainingMs);
      } catch (error) {
        const failure = classifyConsensusError(error);
        switch (failure.kind) {
          case 'not_leader':
          case 'busy':
            await sleep(LEADER_POLL_MS);
            continue;
          case 'unknown':
            if (!options.mutates) {
              await sleep(LEADER_POLL_MS);
              continue;
            }
            throw new DdiaError(KvErrors.outcomeUnknown, failure.reason);
          case 'conf_change_in_progress':
            throw new DdiaError(KvErrors.confChangeInProgress, failure.reason);
          case 'stopped':
            throw new DdiaError(KvErrors.stopping);
          case 'other':
            throw failure.error;
        }
      }
    }
    if (options.forward === null && options.proposeOnFollowers) {
      // No leader known yet: wait for the election, as a write to the leader would.
      await sleep(LEADER_POLL_MS);
      continue;
    }
    if (options.forward === null) {
      // A forwarded request that reached a non-leader goes back to the node that forwarded it,
      // which knows its client's deadline and retries.
      throw new DdiaError(KvErrors.notLeader, `${status.id} is not the leader`, {
        leaderId: status.leaderId,
      });
    }
    const leaderUrl = status.leaderId ? (options.urlOf?.(status.leaderId) ?? status.leaderUrl) : null;
    if (leaderUrl && status.leaderId !== status.id) {
      lastLeaderSeen = status.leaderId;
      const answer = await options.forward(leaderUrl, remainingMs);
      if (answer !== RETRY) return answer;
    }
    await sleep(LEADER_POLL_MS);
  }
}

/**
 * Linearizable read barrier: ReadIndex (Raft dissertation §6.4) works on followers too, so
 * reads are never forwarded; while no leader is known they wait like writes.
 */
export async function readBarrier(node: ConsensusNode, deadlineAt: number): Promise<void> {
  for (;;) {
    const remainingMs = deadlineAt - performance.now();
    if (remainingMs < ATTEMPT_MS_MIN) {
      throw new DdiaError(KvErrors.noLeader, 'no leader confirmed the read within the deadline');
    }
    try {
      await node.readIndex({ timeoutMs: remainingMs });
      return;
    } catch (error) {
      const failure = classifyConsensusError(error);
      if (failure.kind === 'stopped') throw new DdiaError(KvErrors.stopping);
      if (failure.kind === 'other') throw failure.error;
      await sleep(LEADER_POLL_MS);
    }
  }
}
