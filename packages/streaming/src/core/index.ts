// The broker's pure core: wire primitives, record batches, group and producer state machines.
export * from './api-keys.js';
export * from './compaction.js';
export * from './error-codes.js';
export * from './group.js';
export * from './log-checker.js';
export * from './offsets-topic.js';
export * from './orders.js';
export * from './producer-state.js';
export * from './record-batch.js';
export * from './streams/index.js';
export * from './wire/reader.js';
export * from './wire/writer.js';
