// The stream-processing library's pure core: windows, keyed state, the topology DSL, the
// idempotent sink.
export * from './join.js';
export * from './sink.js';
export * from './state.js';
export * from './topology.js';
export * from './windows.js';
