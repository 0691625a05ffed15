// @ddia/partitioning: Chapter 6: a partitioned store with rebalancing and request routing.
export * from './core/index.js';
export { PartErrors } from './errors.js';
export { PARTITION_FLAGS, type PartitionService, startPartitionService } from './partition-service.js';
