// The monitoring package's error catalogue (DESIGN.md: one catalogue per package). Library
// errors carry a `DDIA_ERR_MONITORING_*` code; the HTTP layer maps them to Prometheus's own
// error bodies on /api/v1 and to problem+json elsewhere.
import { DdiaError, type ErrorSpec, errorClass } from '@ddia/common/core';

export const MonitoringErrors = {
  exposition: {
    code: 'DDIA_ERR_MONITORING_EXPOSITION',
    status: 400,
    title: 'Malformed Prometheus text exposition',
    retriable: false,
  },
  promqlParse: {
    code: 'DDIA_ERR_MONITORING_PROMQL_PARSE',
    status: 400,
    title: 'PromQL does not parse',
    retriable: false,
  },
  promqlEval: {
    code: 'DDIA_ERR_MONITORING_PROMQL_EVAL',
    status: 422,
    title: 'PromQL query cannot be evaluated',
    retriable: false,
  },
  chunkCorrupt: {
    code: 'DDIA_ERR_MONITORING_CHUNK_CORRUPT',
    status: 500,
    title: 'A compressed chunk is corrupt',
    retriable: false,
  },
  outOfOrder: {
    code: 'DDIA_ERR_MONITORING_OUT_OF_ORDER',
    status: 400,
    title: 'Sample is older than the newest sample of its series',
    retriable: false,
  },
  badConfig: {
    code: 'DDIA_ERR_MONITORING_BAD_CONFIG',
    status: 400,
    title: 'Bad scrape or rule configuration',
    retriable: false,
  },
  otlp: {
    code: 'DDIA_ERR_MONITORING_OTLP',
    status: 400,
    title: 'Malformed OTLP export request',
    retriable: false,
  },
} as const satisfies Record<string, ErrorSpec>;

/** Text exposition that cannot be parsed; `line` is 1-based. */
export class ExpositionError extends DdiaError {
  override name = 'ExpositionError';
  constructor(
    readonly line: number,
    reason: string,
  ) {
    super(MonitoringErrors.exposition, `line ${line}: ${reason}`, { line });
  }
}

/** PromQL that does not parse; `position` is the 0-based character offset in the query. */
export class PromqlParseError extends DdiaError {
  override name = 'PromqlParseError';
  constructor(
    readonly position: number,
    readonly reason: string,
  ) {
    super(MonitoringErrors.promqlParse, `parse error at position ${position + 1}: ${reason}`, { position });
  }
}

/** PromQL that parses but cannot be evaluated (wrong types, many-to-many matches). */
export class PromqlEvalError extends errorClass('PromqlEvalError', MonitoringErrors.promqlEval) {}

export class ChunkCorruptError extends errorClass('ChunkCorruptError', MonitoringErrors.chunkCorrupt) {}

export class ConfigFileError extends errorClass('ConfigFileError', MonitoringErrors.badConfig) {}

/** An OTLP export request that does not decode or holds invalid spans. */
export class OtlpFormatError extends errorClass('OtlpFormatError', MonitoringErrors.otlp) {}
