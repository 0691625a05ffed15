// The transactions service's own error catalogue (DESIGN.md: one catalogue per package).
// Every code carries the package infix `DDIA_ERR_TX_`, so a code says which service
// raised it. Serialization failures and deadlocks are retriable: the whole transaction may
// be run again, which is exactly what the book (§ "Handling errors and aborts") recommends.
import { DdiaError, type ErrorSpec } from '@ddia/common/core';

export const TxErrors = {
  serialization: {
    code: 'DDIA_ERR_TX_SERIALIZATION',
    status: 409,
    title: 'Could not serialize access (SQLSTATE 40001)',
    retriable: true,
  },
  deadlock: {
    code: 'DDIA_ERR_TX_DEADLOCK',
    status: 409,
    title: 'Deadlock detected (SQLSTATE 40P01)',
    retriable: true,
  },
  lockTimeout: {
    code: 'DDIA_ERR_TX_LOCK_TIMEOUT',
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
  tableNotFound: {
    code: 'DDIA_ERR_TX_TABLE_NOT_FOUND',
    status: 404,
    title: 'No such table',
    retriable: false,
  },
  tableExists: {
    code: 'DDIA_ERR_TX_TABLE_EXISTS',
    status: 409,
    title: 'Table already exists',
    retriable: false,
  },
  duplicateKey: {
    code: 'DDIA_ERR_TX_DUPLICATE_KEY',
    status: 409,
    title: 'Duplicate primary key (SQLSTATE 23505)',
    retriable: false,
  },
  badExpression: {
    code: 'DDIA_ERR_TX_BAD_EXPRESSION',
    status: 400,
    title: 'Expression does not parse',
    retriable: false,
  },
  wrongType: {
    code: 'DDIA_ERR_TX_WRONG_TYPE',
    status: 400,
    title: 'Expression applied to a value of the wrong type',
    retriable: false,
  },
  badRow: { code: 'DDIA_ERR_TX_BAD_ROW', status: 400, title: 'Row is not acceptable', retriable: false },
  transferAborted: {
    code: 'DDIA_ERR_TX_TRANSFER_ABORTED',
    status: 409,
    title: 'Distributed transaction aborted (nothing was applied)',
    retriable: true,
  },
  tooManyTransactions: {
    code: 'DDIA_ERR_TX_TOO_MANY_TRANSACTIONS',
    status: 429,
    title: 'Too many open transactions',
    retriable: true,
  },
} as const satisfies Record<string, ErrorSpec>;

/**
 * @deprecated The codes this package used before they carried the `TX_` infix, mapped to
 * their current names. Kept for one release: problem documents still carry the old code as
 * `deprecatedCode`, and {@link isTxError} accepts either spelling. Match on the new code.
 */
export const DEPRECATED_TX_CODES: Readonly<Record<string, string>> = {
  DDIA_ERR_SERIALIZATION: 'DDIA_ERR_TX_SERIALIZATION',
  DDIA_ERR_DEADLOCK: 'DDIA_ERR_TX_DEADLOCK',
  DDIA_ERR_LOCK_TIMEOUT: 'DDIA_ERR_TX_LOCK_TIMEOUT',
  DDIA_ERR_TABLE_NOT_FOUND: 'DDIA_ERR_TX_TABLE_NOT_FOUND',
  DDIA_ERR_TABLE_EXISTS: 'DDIA_ERR_TX_TABLE_EXISTS',
  DDIA_ERR_DUPLICATE_KEY: 'DDIA_ERR_TX_DUPLICATE_KEY',
  DDIA_ERR_BAD_EXPRESSION: 'DDIA_ERR_TX_BAD_EXPRESSION',
  DDIA_ERR_WRONG_TYPE: 'DDIA_ERR_TX_WRONG_TYPE',
  DDIA_ERR_BAD_ROW: 'DDIA_ERR_TX_BAD_ROW',
  DDIA_ERR_TRANSFER_ABORTED: 'DDIA_ERR_TX_TRANSFER_ABORTED',
  DDIA_ERR_TOO_MANY_TRANSACTIONS: 'DDIA_ERR_TX_TOO_MANY_TRANSACTIONS',
};

const deprecatedByCode = new Map(Object.entries(DEPRECATED_TX_CODES).map(([old, now]) => [now, old]));

/** The current code for `code`, which may be a deprecated alias. */
export function currentTxCode(code: string): string {
  return DEPRECATED_TX_CODES[code] ?? code;
}

/** Whether `code` (current or deprecated spelling) names the error `spec`. */
export function isTxError(code: unknown, spec: ErrorSpec): boolean {
  return typeof code === 'string' && currentTxCode(code) === spec.code;
}

/**
 * A transactions error: a DdiaError whose problem document also names the deprecated code
 * (`deprecatedCode`) while clients move to the `DDIA_ERR_TX_*` names.
 */
export class TxError extends DdiaError {
  constructor(spec: ErrorSpec, detail?: string, extensions: Record<string, unknown> = {}) {
    const deprecatedCode = deprecatedByCode.get(spec.code);
    super(spec, detail, deprecatedCode ? { ...extensions, deprecatedCode } : extensions);
  }
}
