// Prometheus's HTTP API (https://prometheus.io/docs/prometheus/latest/querying/api/) as pure
// functions: parameter parsing with Prometheus's error messages, and results in its JSON
// shapes. Every answer is {status: "success", data} or {status: "error", errorType, error};
// sample values travel as strings ("NaN", "+Inf"), times as float seconds.
import { DdiaError } from '@ddia/common/core';
import { MonitoringErrors, PromqlEvalError, PromqlParseError } from './errors.js';
import { type Labels, labelsToRecord } from './labels.js';
import type { QueryResult } from './promql/engine.js';
import { parseDurationMs } from './promql/lexer.js';
import type { RangeSeries } from './promql/values.js';
import { formatValue } from './special-values.js';

export type ErrorType =
  | 'bad_data'
  | 'execution'
  | 'timeout'
  | 'canceled'
  | 'internal'
  | 'unavailable'
  | 'not_found';

/** An /api/v1 failure: answered as Prometheus's error JSON with the matching status. */
export class ApiError extends DdiaError {
  override name = 'ApiError';
  constructor(
    readonly errorType: ErrorType,
    message: string,
    extensions: Record<string, unknown> = {},
  ) {
    const spec =
      errorType === 'bad_data'
        ? MonitoringErrors.promqlParse
        : errorType === 'execution'
          ? MonitoringErrors.promqlEval
          : { ...MonitoringErrors.promqlEval, status: errorType === 'not_found' ? 404 : 503 };
    super({ ...spec, title: `Prometheus API error: ${errorType}` }, message, extensions);
  }
}

/** The body Prometheus sends for an error, plus the problem+json members that fit beside it. */
export interface ApiErrorBody {
  status: 'error';
  errorType: string;
  error: string;
  type: string;
  title: string;
  detail: string;
  code: string;
  [extension: string]: unknown;
}

export function errorBody(error: DdiaError): ApiErrorBody {
  const errorType =
    error instanceof ApiError
      ? error.errorType
      : error.status === 404
        ? 'not_found'
        : error.status === 422
          ? 'execution'
          : error.status < 500
            ? 'bad_data'
            : 'internal';
  return {
    ...error.extensions,
    status: 'error',
    errorType,
    error: error.message,
    type: `https://ddia.lab/problems/${error.code}`,
    title: error.title,
    detail: error.message,
    code: error.code,
  };
}

/** Maps a PromQL failure to the API error Prometheus gives for it. */
export function queryError(err: unknown): unknown {
  if (err instanceof PromqlParseError) {
    return new ApiError(
      'bad_data',
      `invalid parameter "query": 1:${err.position + 1}: parse error: ${err.reason}`,
      {
        position: err.position,
      },
    );
  }
  if (err instanceof PromqlEvalError) return new ApiError('execution', err.message);
  return err;
}

/** A time parameter: float Unix seconds or RFC 3339. Returns milliseconds. */
export function parseTimeParam(name: string, text: string | undefined, fallbackMs: number): number {
  if (text === undefined || text === '') return fallbackMs;
  if (/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text)) {
    const seconds = Number(text);
    if (Number.isFinite(seconds)) return Math.round(seconds * 1000);
  }
  const ms = parseRfc3339(text);
  if (ms !== null) return ms;
  throw new ApiError('bad_data', `invalid parameter "${name}": cannot parse "${text}" to a valid timestamp`);
}

/** Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil). */
function daysFromCivil(y: number, m: number, d: number): number {
  const yy = m <= 2 ? y - 1 : y;
  const era = Math.floor(yy / 400);
  const yoe = yy - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

/** RFC 3339 (2026-12-06T18:00:00.5Z, or with +01:00) to Unix milliseconds; null otherwise. */
export function parseRfc3339(text: string): number | null {
  const m = /^(\d{4})-(\d\d)-(\d\d)[Tt](\d\d):(\d\d):(\d\d)(\.\d+)?([Zz]|([+-])(\d\d):(\d\d))$/.exec(text);
  if (!m) return null;
  const [y, mo, d, h, mi, s] = [m[1], m[2], m[3], m[4], m[5], m[6]].map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60) return null;
  const frac = m[7] ? Math.round(Number(m[7]) * 1000) : 0;
  const offsetMin = m[9] ? (m[9] === '-' ? -1 : 1) * (Number(m[10]) * 60 + Number(m[11])) : 0;
  return ((daysFromCivil(y, mo, d) * 24 + h) * 60 + mi) * 60_000 + s * 1000 + frac - offsetMin * 60_000;
}

/** A duration parameter (step, timeout): float seconds or a PromQL duration. Milliseconds. */
export function parseDurationParam(name: string, text: string | undefined): number {
  if (text === undefined || text === '')
    throw new ApiError('bad_data', `invalid parameter "${name}": cannot parse "" to a valid duration`);
  if (/^(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text)) {
    const seconds = Number(text);
    if (Number.isFinite(seconds)) return Math.round(seconds * 1000);
  }
  const ms = parseDurationMs(text);
  if (ms !== null) return ms;
  throw new ApiError('bad_data', `invalid parameter "${name}": cannot parse "${text}" to a valid duration`);
}

export type ApiSampleValue = [number, string];

export interface ApiVectorElement {
  metric: Record<string, string>;
  value: ApiSampleValue;
}

export interface ApiMatrixElement {
  metric: Record<string, string>;
  values: ApiSampleValue[];
}

export type ApiQueryData =
  | { resultType: 'vector'; result: ApiVectorElement[] }
  | { resultType: 'matrix'; result: ApiMatrixElement[] }
  | { resultType: 'scalar'; result: ApiSampleValue }
  | { resultType: 'string'; result: ApiSampleValue };

function point(tMs: number, value: number): ApiSampleValue {
  return [tMs / 1000, formatValue(value)];
}

function matrix(series: readonly RangeSeries[]): ApiMatrixElement[] {
  return series.map((s) => ({
    metric: labelsToRecord(s.labels),
    values: s.timestamps.map((t, i) => point(t, s.values[i]!)),
  }));
}

export function formatQueryResult(result: QueryResult): ApiQueryData {
  switch (result.resultType) {
    case 'scalar':
      return { resultType: 'scalar', result: point(result.t, result.value) };
    case 'string':
      return { resultType: 'string', result: [result.t / 1000, result.value] };
    case 'vector':
      return {
        resultType: 'vector',
        result: result.samples.map((s) => ({
          metric: labelsToRecord(s.labels),
          value: point(result.t, s.value),
        })),
      };
    case 'matrix':
      return { resultType: 'matrix', result: matrix(result.series) };
  }
}

export function formatRangeResult(series: readonly RangeSeries[]): ApiQueryData {
  return { resultType: 'matrix', result: matrix(series) };
}

export function formatSeries(labels: readonly Labels[]): Record<string, string>[] {
  return labels.map(labelsToRecord);
}
