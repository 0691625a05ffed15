// @ddia/streaming: Chapter 11: a Kafka-protocol log broker (stream processing and the
// event-sourced demo are to come).
export * from './broker/broker.js';
export * from './core/index.js';
export { KafkaServer } from './kafka/server.js';
export * from './log/partition-log.js';
export * from './node.js';
export { decodeRequestHeader, frameRequest } from './protocol/header.js';
