// @ddia/replication: Chapter 5: single-leader, multi-leader and leaderless replication.
export {};
