// @ddia/partitioning: Chapter 6: a partitioned store with rebalancing and request routing.
export * from './core/index.js';
