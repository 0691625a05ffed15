export * from './linearizability.js';
export * from './lost-writes.js';
export * from './model.js';
export * from './models/cas-register.js';
export * from './models/kv.js';
export * from './transactions/index.js';
