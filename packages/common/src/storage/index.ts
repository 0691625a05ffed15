// The storage kit without the service (`@ddia/common/storage`): the log, atomic files, and the
// process-liveness test behind LOCK files, over the FileSystem layer and the core. For code that
// must load light, such as the LSM engine, whose crash-test children and table workers would
// otherwise load the whole package (HTTP server and client, metrics) at every start.
export * from '../service/process-liveness.js';
export * from './atomic-file.js';
export * from './log.js';
