export * from './store/command.js';
export * from './store/layout.js';
export * from './store/result.js';
export * from './store/sessions.js';
export * from './store/snapshot.js';
export * from './store/state-machine.js';
