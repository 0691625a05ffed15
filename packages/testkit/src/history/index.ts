export * from './edn.js';
export * from './errors.js';
export * from './event.js';
export * from './operations.js';
export * from './parse-jepsen-edn.js';
export * from './parse-jepsen-log.js';
export * from './parse-json.js';
export * from './recorder.js';
