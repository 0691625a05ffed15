// A single read / write / compare-and-set register (Jepsen's cas-register, Knossos'
// `cas-register`): the object behind DDIA ch. 9's Figure 9-4 and the etcd histories.
// Operations with a key are split into independent registers, one per key.

import type { Operation } from '../../history/event.js';
import {
  casArgument,
  type Model,
  partitionByKey,
  pruneUnobservedWrites,
  registerStep,
  sameValue,
  show,
  valueKey,
} from '../model.js';

export interface CasRegisterOptions {
  /** What a read of the untouched register returns; Jepsen's registers start as nil (null). */
  initialValue?: unknown;
}

/** The register's read and write functions. */
const NAMES = { read: 'read', write: 'write' };

export function createCasRegisterModel(options: CasRegisterOptions = {}): Model<unknown> {
  const initialValue = options.initialValue ?? null;
  return {
    name: 'cas-register',
    init: () => initialValue,
    step: (state, op) => registerStep(state, op, NAMES),
    stateKey: valueKey,
    operationProblem(op: Operation) {
      if (op.f !== 'read' && op.f !== 'write' && op.f !== 'cas') {
        return `a cas-register operation (read, write, cas), not "${op.f}"`;
      }
      if (op.f === 'cas' && casArgument(op.input) === undefined) {
        return `a cas argument [from, to], not ${JSON.stringify(op.input)}`;
      }
      return undefined;
    },
    isReadOnly: (op) => op.f === 'read',
    // Nothing grows a register: a read of another value waits for a write or a cas.
    growth: {
      grows: () => false,
      resetTo: (op) => (op.f === 'write' ? { state: op.input } : undefined),
      observed: (op) => op.output,
      reaches: sameValue,
    },
    partition: partitionByKey,
    pruneUnobservable: (operations) => pruneUnobservedWrites(operations, NAMES),
    describeOperation(op) {
      const arg = op.f === 'cas' ? casArgument(op.input) : undefined;
      const what =
        op.f === 'read'
          ? `read -> ${op.status === 'info' ? '?' : show(op.output)}`
          : op.f === 'cas' && arg !== undefined
            ? `cas ${show(arg.from)} -> ${show(arg.to)}`
            : `${op.f} ${show(op.input)}`;
      return `process ${op.process}: ${what}${op.status === 'info' ? ' (outcome unknown)' : ''}`;
    },
    describeState: show,
  };
}

/** The register starting at nil. */
export const casRegisterModel: Model<unknown> = createCasRegisterModel();
