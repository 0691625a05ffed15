export * from './check-command.js';
export * from './check-transactions-command.js';
export * from './checker/index.js';
export * from './fs/fault-file-system.js';
export * from './harness/index.js';
export * from './history/index.js';
export * from './nemesis/index.js';
export * from './proxy/index.js';
