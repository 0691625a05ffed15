// @ddia/partitioning: Chapter 6: a partitioned store with rebalancing and request routing.
export * from './core/index.js';
export { PartErrors } from './errors.js';
export { PARTITION_FLAGS, type PartitionService, startPartitionService } from './partition-service.js';
export { PartitionedClient, type PartitionedClientOptions } from './router/partitioned-client.js';
export { ROUTER_FLAGS, type Router, startRouter } from './router/router.js';
