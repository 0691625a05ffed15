export * from './replay.js';
export * from './runner.js';
export * from './schedule.js';
export * from './shapes.js';
