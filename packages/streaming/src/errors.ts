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
} as const satisfies Record<string, ErrorSpec>;
