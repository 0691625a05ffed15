// @ddia/replication: Chapter 5: single-leader, multi-leader and leaderless replication.
// The pure cores (etcd-raft style state machines: request/step/tick/drain) and their seeded
// simulations, and the HTTP service that drives them (replication-node.ts, main.ts).
export * from './core/anti-entropy.js';
export * from './core/errors.js';
export * from './core/key-state.js';
export * from './core/leaderless.js';
export * from './core/merkle.js';
export * from './core/multi-leader.js';
export * from './core/placement.js';
export * from './core/ready.js';
export * from './core/replica-store.js';
export * from './core/single-leader.js';
export * from './core/sync-rule.js';
export * from './core/version-vector.js';
export * from './flags.js';
export { CONTEXT_HEADER, decodeContext, encodeContext } from './http/context.js';
export { Journal } from './node/journal.js';
export { type NodeHooks, type ReplicationNode, startReplicationNode } from './replication-node.js';
export { runLeaderlessSim } from './sim/leaderless-sim.js';
export { runMultiLeaderSim } from './sim/multi-leader-sim.js';
export { runSingleLeaderSim } from './sim/single-leader-sim.js';
