export * from './cluster.js';
export * from './cluster-node.js';
export * from './ports.js';
export { reaper } from './reaper.js';
