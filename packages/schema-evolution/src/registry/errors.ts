// Confluent Schema Registry answers errors as `{error_code, message}`, where error_code is
// the HTTP status followed by two digits that name the case (40401 = subject not found).
// Clients such as @kafkajs/confluent-schema-registry and Confluent's own serializers branch
// on these numbers, so they are part of the wire contract and kept in one catalogue here.
// RegistryError is a DdiaError (code `DDIA_ERR_SR_<error_code>`), so common's service plumbing
// passes it through untouched and the server's error formatter answers with Confluent's body.
import { DdiaError } from '@ddia/common';

export interface RegistryErrorSpec {
  /** Confluent's numeric error code, e.g. 40401. */
  errorCode: number;
  /** HTTP status the code travels with. */
  status: number;
}

export const RegistryErrors = {
  badRequest: { errorCode: 400, status: 400 },
  unauthorized: { errorCode: 401, status: 401 },
  routeNotFound: { errorCode: 404, status: 404 },
  methodNotAllowed: { errorCode: 405, status: 405 },
  subjectNotFound: { errorCode: 40401, status: 404 },
  versionNotFound: { errorCode: 40402, status: 404 },
  schemaNotFound: { errorCode: 40403, status: 404 },
  subjectSoftDeleted: { errorCode: 40404, status: 404 },
  subjectNotSoftDeleted: { errorCode: 40405, status: 404 },
  versionSoftDeleted: { errorCode: 40406, status: 404 },
  versionNotSoftDeleted: { errorCode: 40407, status: 404 },
  subjectCompatibilityNotConfigured: { errorCode: 40408, status: 404 },
  subjectModeNotConfigured: { errorCode: 40409, status: 404 },
  incompatibleSchema: { errorCode: 409, status: 409 },
  payloadTooLarge: { errorCode: 413, status: 413 },
  unsupportedMediaType: { errorCode: 415, status: 415 },
  unprocessable: { errorCode: 422, status: 422 },
  invalidSchema: { errorCode: 42201, status: 422 },
  invalidVersion: { errorCode: 42202, status: 422 },
  invalidCompatibilityLevel: { errorCode: 42203, status: 422 },
  invalidMode: { errorCode: 42204, status: 422 },
  operationNotPermitted: { errorCode: 42205, status: 422 },
  referenceExists: { errorCode: 42206, status: 422 },
  idDoesNotMatch: { errorCode: 42207, status: 422 },
  invalidSubject: { errorCode: 42208, status: 422 },
  storeError: { errorCode: 50001, status: 500 },
  operationTimeout: { errorCode: 50002, status: 500 },
} as const satisfies Record<string, RegistryErrorSpec>;

/** Any refusal the registry answers with; the HTTP layer turns it into `{error_code, message}`. */
export class RegistryError extends DdiaError {
  override name = 'RegistryError';
  readonly errorCode: number;

  constructor(spec: RegistryErrorSpec, message: string) {
    super(
      {
        code: `DDIA_ERR_SR_${spec.errorCode}`,
        status: spec.status,
        title: `Schema registry error ${spec.errorCode}`,
        retriable: spec.status >= 500,
      },
      message,
    );
    this.errorCode = spec.errorCode;
  }

  toBody(): { error_code: number; message: string } {
    return { error_code: this.errorCode, message: this.message };
  }
}
