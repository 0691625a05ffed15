// The signatures of the PromQL functions this engine implements (argument and return types).
import type { ValueType } from './ast.js';

export interface FunctionSignature {
  args: ValueType[];
  /** How many trailing arguments may be left out. */
  optional?: number;
  returns: ValueType;
}

const overTime = { args: ['matrix'], returns: 'vector' } as const satisfies FunctionSignature;
const math = { args: ['vector'], returns: 'vector' } as const satisfies FunctionSignature;

export const FUNCTIONS: Record<string, FunctionSignature> = {
  rate: overTime,
  irate: overTime,
  increase: overTime,
  delta: overTime,
  idelta: overTime,
  changes: overTime,
  resets: overTime,
  avg_over_time: overTime,
  min_over_time: overTime,
  max_over_time: overTime,
  sum_over_time: overTime,
  count_over_time: overTime,
  last_over_time: overTime,
  stddev_over_time: overTime,
  stdvar_over_time: overTime,
  present_over_time: overTime,
  quantile_over_time: { args: ['scalar', 'matrix'], returns: 'vector' },
  abs: math,
  ceil: math,
  floor: math,
  sqrt: math,
  exp: math,
  ln: math,
  log2: math,
  log10: math,
  round: { args: ['vector', 'scalar'], optional: 1, returns: 'vector' },
  clamp: { args: ['vector', 'scalar', 'scalar'], returns: 'vector' },
  clamp_min: { args: ['vector', 'scalar'], returns: 'vector' },
  clamp_max: { args: ['vector', 'scalar'], returns: 'vector' },
  histogram_quantile: { args: ['scalar', 'vector'], returns: 'vector' },
  scalar: { args: ['vector'], returns: 'scalar' },
  vector: { args: ['scalar'], returns: 'vector' },
  time: { args: [], returns: 'scalar' },
  timestamp: math,
  sort: math,
  sort_desc: math,
  absent: math,
};
