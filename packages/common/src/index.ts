export * from './command/command-output.js';
export * from './core/index.js';
export * from './fs/durable-dir.js';
export * from './fs/file-system.js';
export * from './fs/node-file-system.js';
export * from './fs/remove-tree.js';
export * from './fs/sync-points.js';
export * from './net/forwarded-request.js';
export * from './net/http-client.js';
export * from './net/peer-stream.js';
export * from './net/peer-stream-frame.js';
export * from './net/span-export.js';
export * from './net/trace.js';
export * from './service/config.js';
export * from './service/poll.js';
export * from './service/process-liveness.js';
export * from './service/raft-metrics.js';
export * from './service/service.js';
export * from './service/wall-clock.js';
export * from './storage/atomic-file.js';
export * from './storage/log.js';
export {
  encodeRecords,
  RECORD_HEADER_BYTES,
  SEGMENT_FILE_NAME,
  segmentFileName,
} from './storage/log-format.js';
export * from './storage/store.js';
