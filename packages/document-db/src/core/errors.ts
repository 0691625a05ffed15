// The errors a document database answers with: each a DDIA_ERR_DOCDB_* problem for HTTP and a
// MongoDB error code + codeName for the wire protocol, so the driver raises what it would raise
// against MongoDB (codes from MongoDB's error_codes.yml).
import { DdiaError, type ErrorSpec } from '@ddia/common/core';

export interface DocErrorSpec extends ErrorSpec {
  /** MongoDB's numeric error code. */
  mongoCode: number;
  /** MongoDB's codeName. */
  codeName: string;
}

export const DocErrors = {
  badValue: {
    code: 'DDIA_ERR_DOCDB_BAD_VALUE',
    status: 400,
    title: 'Bad value',
    retriable: false,
    mongoCode: 2,
    codeName: 'BadValue',
  },
  failedToParse: {
    code: 'DDIA_ERR_DOCDB_FAILED_TO_PARSE',
    status: 400,
    title: 'Failed to parse',
    retriable: false,
    mongoCode: 9,
    codeName: 'FailedToParse',
  },
  typeMismatch: {
    code: 'DDIA_ERR_DOCDB_TYPE_MISMATCH',
    status: 400,
    title: 'Type mismatch',
    retriable: false,
    mongoCode: 14,
    codeName: 'TypeMismatch',
  },
  badProjection: {
    code: 'DDIA_ERR_DOCDB_BAD_PROJECTION',
    status: 400,
    title: 'Invalid projection',
    retriable: false,
    mongoCode: 31254,
    codeName: 'Location31254',
  },
  conflictingUpdate: {
    code: 'DDIA_ERR_DOCDB_CONFLICTING_UPDATE',
    status: 400,
    title: 'Conflicting update operators',
    retriable: false,
    mongoCode: 40,
    codeName: 'ConflictingUpdateOperators',
  },
  pathNotViable: {
    code: 'DDIA_ERR_DOCDB_PATH_NOT_VIABLE',
    status: 400,
    title: 'Path not viable',
    retriable: false,
    mongoCode: 28,
    codeName: 'PathNotViable',
  },
  immutableField: {
    code: 'DDIA_ERR_DOCDB_IMMUTABLE_FIELD',
    status: 400,
    title: 'Immutable field',
    retriable: false,
    mongoCode: 66,
    codeName: 'ImmutableField',
  },
  noSuchIndex: {
    code: 'DDIA_ERR_DOCDB_NO_SUCH_INDEX',
    status: 404,
    title: 'Index not found',
    retriable: false,
    mongoCode: 27,
    codeName: 'IndexNotFound',
  },
  namespaceNotFound: {
    code: 'DDIA_ERR_DOCDB_NAMESPACE_NOT_FOUND',
    status: 404,
    title: 'Namespace not found',
    retriable: false,
    mongoCode: 26,
    codeName: 'NamespaceNotFound',
  },
  invalidNamespace: {
    code: 'DDIA_ERR_DOCDB_INVALID_NAMESPACE',
    status: 400,
    title: 'Invalid namespace',
    retriable: false,
    mongoCode: 73,
    codeName: 'InvalidNamespace',
  },
  indexOptionsConflict: {
    code: 'DDIA_ERR_DOCDB_INDEX_OPTIONS_CONFLICT',
    status: 409,
    title: 'Index options conflict',
    retriable: false,
    mongoCode: 85,
    codeName: 'IndexOptionsConflict',
  },
  cannotIndexParallelArrays: {
    code: 'DDIA_ERR_DOCDB_PARALLEL_ARRAYS',
    status: 400,
    title: 'Cannot index parallel arrays',
    retriable: false,
    mongoCode: 171,
    codeName: 'CannotIndexParallelArrays',
  },
  duplicateKey: {
    code: 'DDIA_ERR_DOCDB_DUPLICATE_KEY',
    status: 409,
    title: 'Duplicate key',
    retriable: false,
    mongoCode: 11000,
    codeName: 'DuplicateKey',
  },
  documentTooLarge: {
    code: 'DDIA_ERR_DOCDB_DOCUMENT_TOO_LARGE',
    status: 413,
    title: 'Document too large',
    retriable: false,
    mongoCode: 10334,
    codeName: 'BSONObjectTooLarge',
  },
  tooDeep: {
    code: 'DDIA_ERR_DOCDB_TOO_DEEP',
    status: 400,
    title: 'Document nested too deeply',
    retriable: false,
    mongoCode: 15,
    codeName: 'Overflow',
  },
  cursorNotFound: {
    code: 'DDIA_ERR_DOCDB_CURSOR_NOT_FOUND',
    status: 404,
    title: 'Cursor not found',
    retriable: false,
    mongoCode: 43,
    codeName: 'CursorNotFound',
  },
  commandNotFound: {
    code: 'DDIA_ERR_DOCDB_COMMAND_NOT_FOUND',
    status: 404,
    title: 'No such command',
    retriable: false,
    mongoCode: 59,
    codeName: 'CommandNotFound',
  },
  invalidOptions: {
    code: 'DDIA_ERR_DOCDB_INVALID_OPTIONS',
    status: 400,
    title: 'Invalid options',
    retriable: false,
    mongoCode: 72,
    codeName: 'InvalidOptions',
  },
  documentValidationFailure: {
    code: 'DDIA_ERR_DOCDB_DOCUMENT_VALIDATION',
    status: 400,
    title: 'Document failed validation',
    retriable: false,
    mongoCode: 121,
    codeName: 'DocumentValidationFailure',
  },
  cannotCreateIndex: {
    code: 'DDIA_ERR_DOCDB_CANNOT_CREATE_INDEX',
    status: 400,
    title: 'Cannot create index',
    retriable: false,
    mongoCode: 67,
    codeName: 'CannotCreateIndex',
  },
} as const satisfies Record<string, DocErrorSpec>;

/** Every error the engine raises for a user's mistake: a problem for HTTP, a MongoDB error for the wire. */
export class DocDbError extends DdiaError {
  override name = 'DocDbError';
  readonly mongoCode: number;
  readonly codeName: string;

  constructor(spec: DocErrorSpec, detail: string, extensions: Record<string, unknown> = {}) {
    super(spec, detail, { mongoCode: spec.mongoCode, codeName: spec.codeName, ...extensions });
    this.mongoCode = spec.mongoCode;
    this.codeName = spec.codeName;
  }
}

export function fail(spec: DocErrorSpec, detail: string, extensions?: Record<string, unknown>): never {
  throw new DocDbError(spec, detail, extensions);
}
