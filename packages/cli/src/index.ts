export * from './cli.js';
export * from './compose.js';
export * from './lab.js';
export * from './topology.js';
