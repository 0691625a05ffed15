// Errors as RFC 9457 problem details with a stable code, fastify-style: every error a
// service can answer with is a constant in a catalogue, with its HTTP status and whether a
// client may retry it.

export interface ErrorSpec {
  /** Stable machine-readable code, `DDIA_ERR_*`. */
  code: string;
  status: number;
  title: string;
  retriable: boolean;
}

// biome-ignore format: one error a line, read as a table
export const CommonErrors = {
  badRequest: { code: 'DDIA_ERR_BAD_REQUEST', status: 400, title: 'Bad request', retriable: false },
  validation: { code: 'DDIA_ERR_VALIDATION', status: 400, title: 'Request failed validation', retriable: false },
  badJson: { code: 'DDIA_ERR_BAD_JSON', status: 400, title: 'Body is not valid JSON', retriable: false },
  notFound: { code: 'DDIA_ERR_NOT_FOUND', status: 404, title: 'Not found', retriable: false },
  routeNotFound: { code: 'DDIA_ERR_ROUTE_NOT_FOUND', status: 404, title: 'No such route', retriable: false },
  methodNotAllowed: { code: 'DDIA_ERR_METHOD_NOT_ALLOWED', status: 405, title: 'Method not allowed', retriable: false },
  conflict: { code: 'DDIA_ERR_CONFLICT', status: 409, title: 'Conflict', retriable: false },
  preconditionFailed: { code: 'DDIA_ERR_PRECONDITION_FAILED', status: 412, title: 'Precondition failed', retriable: false },
  uriTooLong: { code: 'DDIA_ERR_URI_TOO_LONG', status: 414, title: 'URI too long', retriable: false },
  payloadTooLarge: { code: 'DDIA_ERR_PAYLOAD_TOO_LARGE', status: 413, title: 'Payload too large', retriable: false },
  unsupportedMediaType: { code: 'DDIA_ERR_UNSUPPORTED_MEDIA_TYPE', status: 415, title: 'Unsupported media type', retriable: false },
  tooManyRequests: { code: 'DDIA_ERR_TOO_MANY_REQUESTS', status: 429, title: 'Too many requests', retriable: true },
  internal: { code: 'DDIA_ERR_INTERNAL', status: 500, title: 'Internal error', retriable: false },
  unavailable: { code: 'DDIA_ERR_UNAVAILABLE', status: 503, title: 'Service unavailable', retriable: true },
  timeout: { code: 'DDIA_ERR_TIMEOUT', status: 504, title: 'Deadline exceeded', retriable: true },
  chaosDisabled: { code: 'DDIA_ERR_CHAOS_DISABLED', status: 404, title: 'Fault injection is off (start with --chaos)', retriable: false },
} as const satisfies Record<string, ErrorSpec>;

/** An error that maps to a problem+json answer. Throw it from routes and domain code alike. */
export class DdiaError extends Error {
  override name = 'DdiaError';
  readonly code: string;
  readonly status: number;
  readonly title: string;
  readonly retriable: boolean;

  constructor(
    spec: ErrorSpec,
    detail?: string,
    /** Extra members of the problem document (RFC 9457 extensions). */
    readonly extensions: Record<string, unknown> = {},
  ) {
    super(detail ?? spec.title);
    this.code = spec.code;
    this.status = spec.status;
    this.title = spec.title;
    this.retriable = spec.retriable;
  }

  toProblem(instance?: string): Problem {
    return {
      type: `https://ddia.lab/problems/${this.code}`,
      title: this.title,
      status: this.status,
      detail: this.message,
      code: this.code,
      retriable: this.retriable,
      ...(instance ? { instance } : {}),
      ...this.extensions,
    };
  }
}

/** What errorClass can extend: DdiaError or a package's own base (RaftError, ...). */
export type DdiaErrorBase<T extends DdiaError> = new (
  spec: ErrorSpec,
  detail?: string,
  extensions?: Record<string, unknown>,
) => T;

/**
 * A DdiaError class for one catalogue entry whose errors carry at most a detail (and optional
 * problem extensions): `class ChunkCorruptError extends errorClass('ChunkCorruptError',
 * Errors.chunkCorrupt) {}` instead of a constructor that only forwards to super. A package with
 * its own base passes it, so `instanceof RaftError` still holds. Without a detail the message
 * is the entry's title.
 */
export function errorClass<T extends DdiaError = DdiaError>(
  name: string,
  spec: ErrorSpec,
  base: DdiaErrorBase<T> = DdiaError as unknown as DdiaErrorBase<T>,
): new (
  detail?: string,
  extensions?: Record<string, unknown>,
) => T {
  const Base = base as unknown as DdiaErrorBase<DdiaError>;
  const Named = class extends Base {
    override name = name;
    constructor(detail?: string, extensions?: Record<string, unknown>) {
      super(spec, detail, extensions);
    }
  };
  return Named as unknown as new (
    detail?: string,
    extensions?: Record<string, unknown>,
  ) => T;
}

/** An RFC 9457 problem document as our services send it. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail?: string;
  code: string;
  retriable: boolean;
  instance?: string;
  [extension: string]: unknown;
}

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

/**
 * Damage found in a file the lab wrote: a record whose checksum fails, a structure that does not
 * decode. Every storage format throws a subclass naming the file and the byte offset (when one is
 * known), so an operator can look at the bytes with the format's FORMAT.md instead of guessing.
 * Storage refuses to open or to answer rather than skip or invent data.
 */
export class CorruptionError extends Error {
  override name = 'CorruptionError';
  constructor(
    /** `DDIA_ERR_<PACKAGE>_CORRUPT_<WHAT>`. */
    readonly code: string,
    /** What the file is, for the message: "table", "write-ahead log". */
    what: string,
    readonly file: string,
    /** Byte offset of the damage, or null when it is the file as a whole. */
    readonly offset: number | null,
    readonly reason: string,
  ) {
    super(`corrupt ${what} ${file}${offset === null ? '' : ` at byte offset ${offset}`}: ${reason}`);
  }
}

/**
 * A CorruptionError class for one kind of file whose damage has a byte offset:
 * `class CorruptTableError extends corruptionClass('CorruptTableError',
 * 'DDIA_ERR_LSM_CORRUPT_TABLE', 'table') {}`.
 */
export function corruptionClass(name: string, code: string, what: string) {
  return class extends CorruptionError {
    override name = name;
    declare readonly offset: number;
    constructor(file: string, offset: number, reason: string) {
      super(code, what, file, offset, reason);
    }
  };
}
