// The FileSystem layer alone (`@ddia/common/fs`): for code that must load light, such as the
// LSM engine's table worker threads, which would otherwise import the whole package (HTTP
// server and client, metrics) in every worker.
export * from './durable-dir.js';
export * from './file-system.js';
export * from './node-file-system.js';
export * from './remove-tree.js';
export * from './sync-points.js';
