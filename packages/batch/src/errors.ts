// The batch engine's error catalogue (DESIGN.md: one catalogue per package).
import type { ErrorSpec } from '@ddia/common';

export const BatchErrors = {
  jobNotFound: { code: 'DDIA_ERR_BATCH_JOB_NOT_FOUND', status: 404, title: 'No such job', retriable: false },
  badInput: {
    code: 'DDIA_ERR_BATCH_INPUT',
    status: 400,
    title: 'An input path cannot be read',
    retriable: false,
  },
  outputExists: {
    code: 'DDIA_ERR_BATCH_OUTPUT_EXISTS',
    status: 409,
    title: 'The output directory already exists (jobs never overwrite output)',
    retriable: false,
  },
  badJobModule: {
    code: 'DDIA_ERR_BATCH_JOB_MODULE',
    status: 400,
    title: 'The job module cannot be used',
    retriable: false,
  },
  unknownWorker: {
    code: 'DDIA_ERR_BATCH_UNKNOWN_WORKER',
    status: 410,
    title: 'Unknown worker (declared dead): register again',
    retriable: false,
  },
  sql: { code: 'DDIA_ERR_BATCH_SQL', status: 400, title: 'The SQL query failed', retriable: false },
  sqlUnavailable: {
    code: 'DDIA_ERR_BATCH_SQL_UNAVAILABLE',
    status: 503,
    title: 'DuckDB is not available in this process',
    retriable: false,
  },
} as const satisfies Record<string, ErrorSpec>;
