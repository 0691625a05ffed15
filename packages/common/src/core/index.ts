// The core of the kit without the service (fastify, pino, prom-client, undici): assertions, pooled bytes,
// clocks, checksums, randomness, sorted-array search and varints. Worker threads import this entry
// (`@ddia/common/core`): the whole kit takes some 220 ms to load on an idle core, and a worker
// that loads it competes with its own process for the CPU while it starts.
export * from './arithmetic.js';
export * from './assert.js';
export * from './bytes.js';
export * from './clock.js';
export * from './crc32c.js';
export * from './errors.js';
export * from './random.js';
export * from './sorted.js';
export * from './varint.js';
