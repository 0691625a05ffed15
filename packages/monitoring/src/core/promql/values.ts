// The four PromQL value types, as the evaluator passes them around.
import type { Labels } from '../labels.js';

/** One element of an instant vector. `t` is the sample's own time (timestamp()). */
export interface Sample {
  labels: Labels;
  value: number;
  t: number;
}

export interface RangeSeries {
  labels: Labels;
  timestamps: number[];
  values: number[];
}

export type Value =
  | { type: 'scalar'; value: number }
  | { type: 'string'; value: string }
  | { type: 'vector'; samples: Sample[] }
  | { type: 'matrix'; series: RangeSeries[] };
