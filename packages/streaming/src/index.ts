// @ddia/streaming: Chapter 11: a Kafka-protocol log broker, stream processing and event-sourced orders.
export {};
