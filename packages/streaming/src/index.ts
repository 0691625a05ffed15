// @ddia/streaming: Chapter 11: a Kafka-protocol log broker, a stream-processing library and the
// event-sourced orders demo.
export * from './broker/broker.js';
export * from './cdc/kv-capture.js';
export * from './core/index.js';
export { KafkaServer } from './kafka/server.js';
export * from './log/partition-log.js';
export * from './node.js';
export { decodeRequestHeader, frameRequest } from './protocol/header.js';
export * from './streams/local-state.js';
export * from './streams/range-assigner.js';
export * from './streams/read-topic.js';
export * from './streams/runner.js';
export * from './streams/task-assigner.js';
export * from './streams/view.js';
