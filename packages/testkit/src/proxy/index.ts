export * from './control-client.js';
export * from './daemon.js';
export * from './faults.js';
export * from './link-proxy.js';
export * from './network.js';
export * from './shaped-pipe.js';
