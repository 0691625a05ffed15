// The HTTP errors of the streaming service (the Kafka protocol has its own codes: core/error-codes.ts).
import type { ErrorSpec } from '@ddia/common';

export const StreamingErrors = {
  unknownTopic: {
    code: 'DDIA_ERR_STREAMING_UNKNOWN_TOPIC',
    status: 404,
    title: 'No such topic',
    retriable: false,
  },
  unknownGroup: {
    code: 'DDIA_ERR_STREAMING_UNKNOWN_GROUP',
    status: 404,
    title: 'No such consumer group',
    retriable: false,
  },
  unknownOrder: {
    code: 'DDIA_ERR_STREAMING_UNKNOWN_ORDER',
    status: 404,
    title: 'No such order in the view',
    retriable: false,
  },
  badCommand: {
    code: 'DDIA_ERR_STREAMING_BAD_COMMAND',
    status: 400,
    title: 'Malformed order command',
    retriable: false,
  },
  versionConflict: {
    code: 'DDIA_ERR_STREAMING_VERSION_CONFLICT',
    status: 409,
    title: 'The order changed since the expected version',
    retriable: false,
  },
  commandRejected: {
    code: 'DDIA_ERR_STREAMING_COMMAND_REJECTED',
    status: 422,
    title: "The command does not apply to the order's state",
    retriable: false,
  },
} as const satisfies Record<string, ErrorSpec>;
