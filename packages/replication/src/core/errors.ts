// The replication package's error catalogue (DDIA_ERR_REPLICATION_*). Each is a DdiaError, so
// the service answers it as problem+json with its status and `retriable` flag.
import { DdiaError, type ErrorSpec } from '@ddia/common/core';

export const ReplicationErrors = {
  badContext: {
    code: 'DDIA_ERR_REPLICATION_BAD_CONTEXT',
    status: 400,
    title: 'X-Context is not a context this service issued',
    retriable: false,
  },
  badRequest: {
    code: 'DDIA_ERR_REPLICATION_BAD_REQUEST',
    status: 400,
    title: 'Bad replication request',
    retriable: false,
  },
  typeMismatch: {
    code: 'DDIA_ERR_REPLICATION_TYPE_MISMATCH',
    status: 409,
    title: 'The key holds another data type',
    retriable: false,
  },
  quorumNotReached: {
    code: 'DDIA_ERR_REPLICATION_QUORUM_NOT_REACHED',
    status: 503,
    title: 'Too few replicas answered in time (a write may still have been applied on some)',
    retriable: true,
  },
  noCoordinator: {
    code: 'DDIA_ERR_REPLICATION_NO_COORDINATOR',
    status: 503,
    title: 'No replica of this key is reachable',
    retriable: true,
  },
  notLeader: {
    code: 'DDIA_ERR_REPLICATION_NOT_LEADER',
    status: 421,
    title: 'This node is not the leader: send writes to the leader',
    retriable: true,
  },
  fenced: {
    code: 'DDIA_ERR_REPLICATION_FENCED',
    status: 503,
    title: 'This leader cannot confirm its epoch with a majority (fenced)',
    retriable: true,
  },
  behind: {
    code: 'DDIA_ERR_REPLICATION_BEHIND',
    status: 503,
    title: 'This replica has not yet applied the position the session requires',
    retriable: true,
  },
  syncTimeout: {
    code: 'DDIA_ERR_REPLICATION_SYNC_TIMEOUT',
    status: 504,
    title: 'Synchronous standbys did not confirm in time (the write is on the leader)',
    retriable: true,
  },
  badPromotion: {
    code: 'DDIA_ERR_REPLICATION_BAD_PROMOTION',
    status: 409,
    title: 'This node cannot be promoted now',
    retriable: false,
  },
} as const satisfies Record<string, ErrorSpec>;

export function replicationError(spec: ErrorSpec, detail?: string, extensions?: Record<string, unknown>) {
  return new DdiaError(spec, detail, extensions);
}
