// The pure core of partitioning: no I/O, no clock, no randomness.
export * from './assignment.js';
export * from './cluster-config.js';
export * from './compound-key.js';
export * from './consistent-hash.js';
export * from './hash.js';
export * from './hash-slots.js';
export * from './hot-keys.js';
export * from './key-ranges.js';
export * from './movement.js';
export * from './partition-load.js';
export * from './partitioner.js';
export * from './secondary-index.js';
