export * from './demo/demo.js';
export * from './engine/database.js';
export * from './engine/expression.js';
export * from './engine/transaction.js';
export * from './engine/wal-record.js';
export * from './errors.js';
