// The partitioning service's problem catalogue. `retriable` tells a client whether the same
// request may be sent again: a wrong-owner answer (421, RFC 9110 §15.5.20 Misdirected Request)
// names the owner to send it to; a partition that is moving answers 503 for the moment of the
// final copy and flip. Neither was applied.
import type { ErrorSpec } from '@ddia/common';

export const PartErrors = {
  badKey: { code: 'DDIA_ERR_PART_BAD_KEY', status: 400, title: 'Bad key', retriable: false },
  keyTooLarge: { code: 'DDIA_ERR_PART_KEY_TOO_LARGE', status: 413, title: 'Key too large', retriable: false },
  valueTooLarge: {
    code: 'DDIA_ERR_PART_VALUE_TOO_LARGE',
    status: 413,
    title: 'Value too large',
    retriable: false,
  },
  keyNotFound: { code: 'DDIA_ERR_PART_KEY_NOT_FOUND', status: 404, title: 'No such key', retriable: false },
  badCondition: {
    code: 'DDIA_ERR_PART_BAD_CONDITION',
    status: 400,
    title: 'Bad conditional header',
    retriable: false,
  },
  preconditionFailed: {
    code: 'DDIA_ERR_PART_PRECONDITION_FAILED',
    status: 412,
    title: 'Precondition failed',
    retriable: false,
  },
  wrongOwner: {
    code: 'DDIA_ERR_PART_WRONG_OWNER',
    status: 421,
    title: 'This node does not own the partition; not applied, send it to the owner',
    retriable: true,
  },
  moving: {
    code: 'DDIA_ERR_PART_MOVING',
    status: 503,
    title: 'The partition is being handed to another node; not applied, retry shortly',
    retriable: true,
  },
  notReady: {
    code: 'DDIA_ERR_PART_NOT_READY',
    status: 503,
    title: 'No cluster configuration yet; not applied',
    retriable: true,
  },
  ownerUnreachable: {
    code: 'DDIA_ERR_PART_OWNER_UNREACHABLE',
    status: 503,
    title: 'The owner could not be reached; not applied',
    retriable: true,
  },
  outcomeUnknown: {
    code: 'DDIA_ERR_PART_OUTCOME_UNKNOWN',
    status: 504,
    title: 'Outcome unknown: the write may or may not have been applied',
    retriable: true,
  },
  noController: {
    code: 'DDIA_ERR_PART_NO_CONTROLLER',
    status: 503,
    title: 'The controller group has no leader within the deadline',
    retriable: true,
  },
  configRefused: {
    code: 'DDIA_ERR_PART_CONFIG_REFUSED',
    status: 409,
    title: 'The controller refused the change',
    retriable: false,
  },
  changesGone: {
    code: 'DDIA_ERR_PART_CHANGES_GONE',
    status: 410,
    title: 'The change log no longer covers that position; copy a snapshot again',
    retriable: false,
  },
  notACounter: {
    code: 'DDIA_ERR_PART_NOT_A_COUNTER',
    status: 409,
    title: 'The key holds a value that is not an integer counter',
    retriable: false,
  },
  unknownIndex: {
    code: 'DDIA_ERR_PART_UNKNOWN_INDEX',
    status: 404,
    title: 'No such secondary index',
    retriable: false,
  },
  unknownPartition: {
    code: 'DDIA_ERR_PART_UNKNOWN_PARTITION',
    status: 404,
    title: 'No such partition',
    retriable: false,
  },
} as const satisfies Record<string, ErrorSpec>;
