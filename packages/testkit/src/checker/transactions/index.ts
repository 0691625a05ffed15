export * from './check-transactions.js';
export * from './dependency-graph.js';
export * from './generate-transactions.js';
export * from './infer-edges.js';
export * from './transaction.js';
