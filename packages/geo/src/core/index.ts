// The pure core of @ddia/geo: latency distributions, the PBS WARS Monte Carlo, the paper's
// profiles and published figures, a region latency matrix. No I/O, no clock, no Math.random:
// everything is seeded.
export * from './distributions.js';
export * from './latency-matrix.js';
export * from './paper-check.js';
export * from './paper-estimator.js';
export * from './profiles.js';
export * from './published.js';
export * from './quorum-levels.js';
export * from './stats.js';
export * from './tail-model.js';
export * from './wars.js';
