// @ddia/partitioning: Chapter 6: a partitioned, replicated store with rebalancing and request routing.
export {};
