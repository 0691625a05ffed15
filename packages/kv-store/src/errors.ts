// The kv-store's problem catalogue (fastify-style coded constants). `retriable` tells a client
// whether sending the same request again is safe and useful; 503 means "not applied", 504
// means "outcome unknown: retry with the same X-Client-Id / X-Request-Seq to be safe".
import type { ErrorSpec } from '@ddia/common';

// biome-ignore format: one error a line, read as a table
export const KvErrors = {
  badKey: { code: 'DDIA_ERR_KV_BAD_KEY', status: 400, title: 'Bad key', retriable: false },
  keyTooLarge: { code: 'DDIA_ERR_KV_KEY_TOO_LARGE', status: 413, title: 'Key too large', retriable: false },
  valueTooLarge: { code: 'DDIA_ERR_KV_VALUE_TOO_LARGE', status: 413, title: 'Value too large', retriable: false },
  keyNotFound: { code: 'DDIA_ERR_KV_KEY_NOT_FOUND', status: 404, title: 'No such key', retriable: false },
  badCondition: { code: 'DDIA_ERR_KV_BAD_CONDITION', status: 400, title: 'Bad conditional header', retriable: false },
  preconditionFailed: { code: 'DDIA_ERR_KV_PRECONDITION_FAILED', status: 412, title: 'Precondition failed', retriable: false },
  badSession: { code: 'DDIA_ERR_KV_BAD_SESSION', status: 400, title: 'Bad X-Client-Id / X-Request-Seq', retriable: false },
  staleRequest: { code: 'DDIA_ERR_KV_STALE_REQUEST', status: 409, title: 'Request older than this client’s latest; not applied', retriable: false },
  noLeader: { code: 'DDIA_ERR_KV_NO_LEADER', status: 503, title: 'No leader within the deadline; not applied', retriable: true },
  notLeader: { code: 'DDIA_ERR_KV_NOT_LEADER', status: 503, title: 'This node is not the leader; not applied', retriable: true },
  outcomeUnknown: { code: 'DDIA_ERR_KV_OUTCOME_UNKNOWN', status: 504, title: 'Outcome unknown: the write may or may not have been applied', retriable: true },
  confChangeInProgress: { code: 'DDIA_ERR_KV_CONF_CHANGE_IN_PROGRESS', status: 409, title: 'Another membership change is in progress', retriable: true },
  unknownMember: { code: 'DDIA_ERR_KV_UNKNOWN_MEMBER', status: 404, title: 'No such member', retriable: false },
  stopping: { code: 'DDIA_ERR_KV_STOPPING', status: 503, title: 'Node is shutting down', retriable: true },
} as const satisfies Record<string, ErrorSpec>;
