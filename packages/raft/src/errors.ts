// The raft package's error catalogue (DDIA_ERR_RAFT_*). Each error is a DdiaError, so a
// service can throw it straight out of a route and the client gets problem+json with the
// right status and `retriable` flag.
import { DdiaError, type ErrorSpec, errorClass } from '@ddia/common';

// biome-ignore format: one error a line, read as a table
export const RaftErrors = {
  notLeader: { code: 'DDIA_ERR_RAFT_NOT_LEADER', status: 503, title: 'Not the Raft leader', retriable: true },
  proposalDropped: { code: 'DDIA_ERR_RAFT_PROPOSAL_DROPPED', status: 503, title: 'Proposal dropped before commit (it may or may not apply)', retriable: true },
  proposalNotCommitted: { code: 'DDIA_ERR_RAFT_PROPOSAL_NOT_COMMITTED', status: 503, title: 'Proposal lost before commit: it was not applied and will not be; retry', retriable: true },
  timeout: { code: 'DDIA_ERR_RAFT_TIMEOUT', status: 504, title: 'Raft operation timed out', retriable: true },
  stopped: { code: 'DDIA_ERR_RAFT_STOPPED', status: 503, title: 'Raft node is stopping', retriable: true },
  transferring: { code: 'DDIA_ERR_RAFT_TRANSFERRING', status: 503, title: 'Leadership transfer in progress', retriable: true },
  confChangeInProgress: { code: 'DDIA_ERR_RAFT_CONF_CHANGE_IN_PROGRESS', status: 409, title: 'Another membership change is in progress', retriable: true },
  overloaded: { code: 'DDIA_ERR_RAFT_OVERLOADED', status: 503, title: 'Too many pending operations', retriable: true },
  badRequest: { code: 'DDIA_ERR_RAFT_BAD_REQUEST', status: 400, title: 'Bad Raft request', retriable: false },
} as const satisfies Record<string, ErrorSpec>;

export class RaftError extends DdiaError {
  override name = 'RaftError';
}

export class NotLeaderError extends RaftError {
  override name = 'NotLeaderError';
  constructor(
    readonly leaderId: string | null,
    readonly leaderUrl: string | null,
    readonly term: number,
  ) {
    super(
      RaftErrors.notLeader,
      leaderId ? `not the leader; the leader is ${leaderId}` : 'not the leader; no leader is known right now',
      { leaderId, leaderUrl, term },
    );
  }
}

export class ProposalDroppedError extends errorClass(
  'ProposalDroppedError',
  RaftErrors.proposalDropped,
  RaftError,
) {}

/** Unlike ProposalDroppedError, certain: the entry can no longer commit, a retry is safe. */
export class ProposalNotCommittedError extends errorClass(
  'ProposalNotCommittedError',
  RaftErrors.proposalNotCommitted,
  RaftError,
) {}

export class RaftTimeoutError extends RaftError {
  override name = 'RaftTimeoutError';
  constructor(what: string, timeoutMs: number) {
    super(RaftErrors.timeout, `${what} did not finish within ${timeoutMs} ms`, { timeoutMs });
  }
}

export class RaftStoppedError extends errorClass('RaftStoppedError', RaftErrors.stopped, RaftError) {}

export class LeadershipTransferInProgressError extends errorClass(
  'LeadershipTransferInProgressError',
  RaftErrors.transferring,
  RaftError,
) {}

export class ConfChangeInProgressError extends errorClass(
  'ConfChangeInProgressError',
  RaftErrors.confChangeInProgress,
  RaftError,
) {}

/** Malformed input from a caller or a peer (never an invariant failure). */
export class RaftBadRequestError extends errorClass(
  'RaftBadRequestError',
  RaftErrors.badRequest,
  RaftError,
) {}
