// The transactions service's own error catalogue (DESIGN.md: one catalogue per package).
// Serialization failures and deadlocks are retriable: the whole transaction may be run
// again, which is exactly what the book (§ "Handling errors and aborts") recommends.
import type { ErrorSpec } from '@ddia/common';

export const TxErrors = {
  serialization: {
    code: 'DDIA_ERR_SERIALIZATION',
    status: 409,
    title: 'Could not serialize access (SQLSTATE 40001)',
    retriable: true,
  },
  deadlock: {
    code: 'DDIA_ERR_DEADLOCK',
    status: 409,
    title: 'Deadlock detected (SQLSTATE 40P01)',
    retriable: true,
  },
  lockTimeout: {
    code: 'DDIA_ERR_LOCK_TIMEOUT',
    status: 409,
    title: 'Lock wait timed out (SQLSTATE 55P03)',
    retriable: true,
  },
  txNotFound: {
    code: 'DDIA_ERR_TX_NOT_FOUND',
    status: 404,
    title: 'No such transaction (finished, timed out or never begun)',
    retriable: false,
  },
  txAborted: {
    code: 'DDIA_ERR_TX_ABORTED',
    status: 409,
    title: 'Transaction is aborted; roll it back',
    retriable: false,
  },
  tableNotFound: { code: 'DDIA_ERR_TABLE_NOT_FOUND', status: 404, title: 'No such table', retriable: false },
  tableExists: {
    code: 'DDIA_ERR_TABLE_EXISTS',
    status: 409,
    title: 'Table already exists',
    retriable: false,
  },
  duplicateKey: {
    code: 'DDIA_ERR_DUPLICATE_KEY',
    status: 409,
    title: 'Duplicate primary key (SQLSTATE 23505)',
    retriable: false,
  },
  badExpression: {
    code: 'DDIA_ERR_BAD_EXPRESSION',
    status: 400,
    title: 'Expression does not parse',
    retriable: false,
  },
  wrongType: {
    code: 'DDIA_ERR_WRONG_TYPE',
    status: 400,
    title: 'Expression applied to a value of the wrong type',
    retriable: false,
  },
  badRow: { code: 'DDIA_ERR_BAD_ROW', status: 400, title: 'Row is not acceptable', retriable: false },
  transferAborted: {
    code: 'DDIA_ERR_TRANSFER_ABORTED',
    status: 409,
    title: 'Distributed transaction aborted (nothing was applied)',
    retriable: true,
  },
  tooManyTransactions: {
    code: 'DDIA_ERR_TOO_MANY_TRANSACTIONS',
    status: 429,
    title: 'Too many open transactions',
    retriable: true,
  },
} as const satisfies Record<string, ErrorSpec>;
