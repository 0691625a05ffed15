// @ddia/schema-evolution: chapter 4's encodings, evolution rules, schema registry and migrate tool.
export * from './encodings/annotate.js';
export * from './encodings/book-record.js';
export * from './encodings/codecs.js';
export * from './encodings/generate.js';
export * from './encodings/report.js';
export * from './encodings/throughput.js';
export * from './evolution/matrix.js';
export * from './migrate/schema-diff.js';
export * from './migrate/schema-migrate.js';
export * from './registry/avro-compatibility.js';
export * from './registry/avro-schema.js';
export * from './registry/compatibility.js';
export * from './registry/errors.js';
export * from './registry/registry.js';
export * from './server.js';
